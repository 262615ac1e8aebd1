"""The caller's subsidy to-dos: batches near or past their deadline, objections, back-pay, notices."""

from datetime import date

from sqlalchemy import and_, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.subsidy.batches.models import Batch, Disbursement, Objection
from services.subsidy.batches.service import lines_visible_to, visible_to
from services.subsidy.domain import NEAR_DEADLINE, current_semester, deadline_of, mask_name, semester_label
from services.subsidy.notices.models import NoticeAck
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import SchoolFact

COUNTY = (Role.county, Role.admin)


def _batch_duty(principal: Principal):
    """SQL: the batches waiting on the caller's role, and what it has to do with them."""
    if principal.role is Role.school:
        return Batch.status.in_(("draft", "rejected")), "submit_batch", "提交资助名单"
    if principal.role is Role.township:
        return (
            and_(Batch.status == "submitted", Batch.awaiting == "township"),
            "approve_batch",
            "审核资助名单",
        )
    if principal.role in COUNTY:
        return Batch.status.in_(("submitted", "approved")), None, None
    return None, None, None


async def batch_tasks(session: AsyncSession, principal: Principal, on: date) -> list[dict]:
    where, kind, verb = _batch_duty(principal)
    if where is None:
        return []
    rows = (
        await session.execute(
            select(Batch, Policy.name, SchoolFact.name)
            .join(Policy, Policy.id == Batch.policy_id)
            .outerjoin(SchoolFact, SchoolFact.code == Batch.school_code)
            .where(visible_to(principal), where)
        )
    ).all()
    out = []
    for batch, policy_name, school_name in rows:
        due = deadline_of(batch.semester)
        if due - on > NEAR_DEADLINE:
            continue
        task_kind, task_verb = kind, verb
        if task_kind is None:  # county: approve what the township passed, pay what is approved
            if batch.status == "submitted" and batch.awaiting != "county":
                continue
            task_kind, task_verb = (
                ("approve_batch", "审批资助名单")
                if batch.status == "submitted"
                else ("pay_batch", "发放资助资金")
            )
        rejected = f"（已退回：{batch.reject_reason}）" if batch.status == "rejected" else ""
        out.append(
            {
                "kind": task_kind,
                "title": f"{task_verb}：{school_name or batch.school_code} {policy_name} "
                f"{semester_label(batch.semester)}{rejected}",
                "due_on": due,
                "overdue": due < on,
                "ref": {"type": "batch", "id": str(batch.id)},
                "school_code": batch.school_code,
            }
        )
    return out


async def objection_tasks(session: AsyncSession, principal: Principal) -> list[dict]:
    if principal.role not in (Role.township, *COUNTY):
        return []
    rows = (
        await session.execute(
            select(Objection, Batch, Disbursement.student_name)
            .join(Batch, Batch.id == Objection.batch_id)
            .join(Disbursement, Disbursement.id == Objection.line_id)
            .where(Objection.status == "open", visible_to(principal))
        )
    ).all()
    return [
        {
            "kind": "resolve_objection",
            "title": f"处理公示异议：{mask_name(name)}（{objection.reason}）",
            "due_on": deadline_of(batch.semester),
            "overdue": False,
            "ref": {"type": "objection", "id": str(objection.id), "batch_id": str(batch.id)},
            "school_code": batch.school_code,
            "student_id": str(objection.student_id),
        }
        for objection, batch, name in rows
    ]


async def back_pay_tasks(session: AsyncSession, principal: Principal, on: date) -> list[dict]:
    if principal.role not in (Role.school, Role.township, *COUNTY):
        return []
    rows = (
        await session.execute(
            select(Disbursement.school_code, Disbursement.policy_code, Disbursement.semester, func.count())
            .where(Disbursement.status == "proposed", lines_visible_to(principal))
            .group_by(Disbursement.school_code, Disbursement.policy_code, Disbursement.semester)
        )
    ).all()
    return [
        {
            "kind": "batch_back_pay",
            "title": f"补发资助：{count}名学生待列入补发批次（{policy_code}，{semester_label(semester)}）",
            "due_on": deadline_of(semester),
            "overdue": deadline_of(semester) < on,
            "ref": {"type": "back_pay", "id": f"{school_code}/{semester}/{policy_code}"},
            "school_code": school_code,
            "policy_code": policy_code,
            "semester": semester,
            "count": count,
        }
        for school_code, policy_code, semester, count in rows
    ]


async def notice_tasks(session: AsyncSession, principal: Principal, on: date) -> list[dict]:
    """Village users: paid notices of this semester to bring to the parents and acknowledge."""
    if principal.role is not Role.village:
        return []
    semester = current_semester(on)
    acked = select(NoticeAck.student_id).where(
        NoticeAck.student_id == Disbursement.student_id, NoticeAck.semester == semester
    )
    rows = (
        await session.execute(
            select(Disbursement.student_id, Disbursement.student_name, Disbursement.school_code)
            .where(
                Disbursement.status == "paid",
                Disbursement.semester == semester,
                lines_visible_to(principal),
                ~acked.exists(),
            )
            .distinct()
        )
    ).all()
    return [
        {
            "kind": "acknowledge_notice",
            "title": f"送达资助告知书：{name}",
            "due_on": deadline_of(semester),
            "overdue": False,
            "ref": {"type": "notice", "id": f"{student_id}/{semester}"},
            "school_code": school_code,
            "student_id": str(student_id),
        }
        for student_id, name, school_code in rows
    ]


async def tasks_for(session: AsyncSession, principal: Principal, *, on: date) -> list[dict]:
    """Return the caller's to-dos, most urgent first."""
    items = [
        *await batch_tasks(session, principal, on),
        *await objection_tasks(session, principal),
        *await back_pay_tasks(session, principal, on),
        *await notice_tasks(session, principal, on),
    ]
    return sorted(items, key=lambda t: (t["due_on"], t["kind"], t["ref"]["id"]))
