"""Notices to parents (告知书): what was paid for a student in a semester, and the acknowledgement."""

import uuid

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.rls import within
from services.subsidy.batches.models import Disbursement
from services.subsidy.domain import KIND_LABELS, semester_label
from services.subsidy.events import emit
from services.subsidy.notices.models import NoticeAck
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import SchoolFact, StudentFact

ACKNOWLEDGERS = (Role.school, Role.village)


def students_visible_to(principal: Principal):
    if principal.role is Role.school:
        return StudentFact.school_code == principal.school_code
    if principal.role is Role.village:
        return within(StudentFact.village_code, principal.area_code)
    return within(StudentFact.area_code, principal.area_code)


async def student_or_404(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> StudentFact:
    stmt = select(StudentFact).where(StudentFact.student_id == student_id, students_visible_to(principal))
    student = (await session.execute(stmt)).scalar_one_or_none()
    if student is None:
        raise NotFound("No such student")
    return student


async def build_notice(session: AsyncSession, student: StudentFact, semester: str) -> dict:
    """Return the notice: every paid line of the student in the semester, with policy and amount."""
    rows = (
        await session.execute(
            select(Disbursement, Policy, SchoolFact)
            .join(Policy, Policy.id == Disbursement.policy_id)
            .outerjoin(SchoolFact, SchoolFact.code == Disbursement.school_code)
            .where(
                Disbursement.student_id == student.student_id,
                Disbursement.semester == semester,
                Disbursement.status == "paid",
            )
            .order_by(Disbursement.paid_on, Policy.code)
        )
    ).all()
    school = await session.get(SchoolFact, student.school_code) if student.school_code else None
    ack = await session.get(NoticeAck, (student.student_id, semester))
    items = [
        {
            "line_id": line.id,
            "batch_id": line.batch_id,
            "policy_code": policy.code,
            "policy_name": policy.name,
            "policy_kind": policy.kind,
            "policy_kind_label": KIND_LABELS.get(policy.kind, policy.kind),
            "amount_fen": line.amount_fen,
            "paid_on": line.paid_on,
            "back_pay": line.kind == "back_pay",
            "school_code": line.school_code,
            "school_name": paid_at.name if paid_at else None,
        }
        for line, policy, paid_at in rows
    ]
    return {
        "student_id": student.student_id,
        "name": student.name,
        "school_code": student.school_code,
        "school_name": school.name if school else None,
        "grade": student.grade,
        "semester": semester,
        "semester_label": semester_label(semester),
        "items": items,
        "total_fen": sum(item["amount_fen"] for item in items),
        "acknowledgement": ack_out(ack),
    }


def ack_out(ack: NoticeAck | None) -> dict | None:
    if ack is None:
        return None
    return {
        "acknowledged_at": ack.acknowledged_at,
        "acknowledged_by": ack.acknowledged_by,
        "role": ack.role,
        "note": ack.note,
    }


async def acknowledge(
    session: AsyncSession, principal: Principal, *, student: StudentFact, semester: str, note: str | None
) -> tuple[NoticeAck, bool]:
    """Record that the parents received the notice; return it and whether it is new."""
    if principal.role not in ACKNOWLEDGERS:
        raise Forbidden("Only school and village users record acknowledgements")
    existing = await session.get(NoticeAck, (student.student_id, semester))
    if existing is not None:
        return existing, False
    paid = (
        await session.execute(
            select(Disbursement.id).where(
                Disbursement.student_id == student.student_id,
                Disbursement.semester == semester,
                Disbursement.status == "paid",
            )
        )
    ).first()
    if paid is None:
        raise Conflict("Nothing was paid to this student in this semester; there is no notice to acknowledge")
    ack = NoticeAck(
        student_id=student.student_id,
        semester=semester,
        acknowledged_by=principal.username,
        role=principal.role,
        note=note,
    )
    session.add(ack)
    await session.flush()
    await emit(
        session,
        "edu.subsidy.notice.acknowledged",
        subject=str(student.student_id),
        area_code=student.area_code,
        school_code=student.school_code,
        data={
            "student_id": str(student.student_id),
            "semester": semester,
            "acknowledged_at": ack.acknowledged_at.isoformat(),
            "acknowledged_by": ack.acknowledged_by,
            "role": ack.role,
        },
    )
    return ack, True
