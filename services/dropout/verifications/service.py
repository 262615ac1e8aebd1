"""Start-of-semester checks (开学核查): the list to confirm, the results, cases for the unexplained."""

import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.dropout.cases.models import Case
from services.dropout.cases.opening import open_case
from services.dropout.db import now
from services.dropout.domain import ACTIVE_STATUSES, CaseSource, is_compulsory, semester_start, today_local
from services.dropout.events import emit_all, event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_ref, visible_to
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, complete_tasks, task_row
from services.dropout.verifications.models import Verification, VerificationItem
from services.dropout.verifications.schemas import ResultIn, VerificationCreate
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within

WRITERS = (Role.admin, Role.county, Role.school)


def visible_to_v(principal: Principal) -> ColumnElement[bool]:
    """Checks the caller sees: its school's, or its area's (village users none)."""
    if principal.role is Role.school:
        return Verification.school_code == principal.school_code
    if principal.role is Role.village:
        return Verification.id.is_(None)
    return within(Verification.area_code, principal.area_code)


async def verification_or_404(session: AsyncSession, principal: Principal, vid: uuid.UUID) -> Verification:
    v = (
        await session.execute(select(Verification).where(Verification.id == vid, visible_to_v(principal)))
    ).scalar_one_or_none()
    if v is None:
        raise NotFound("No such verification")
    return v


async def create(session: AsyncSession, principal: Principal, *, data: VerificationCreate) -> Verification:
    """List the school's enrolled compulsory-age students to confirm; one check per school and semester."""
    if principal.role not in WRITERS:
        raise Forbidden("Only school, county and admin users run the start-of-semester check")
    if principal.role is Role.school and data.school_code != principal.school_code:
        raise Invalid(["school_code"], "A school checks only its own students", code="unknown_school")
    students = (
        (
            await session.execute(
                select(Student)
                .where(
                    Student.school_code == data.school_code,
                    Student.status == "enrolled",
                    visible_to(principal),
                )
                .order_by(Student.grade, Student.name)
            )
        )
        .scalars()
        .all()
    )
    on = semester_start(data.semester)
    students = [s for s in students if is_compulsory(stage=s.stage, birth_date=s.birth_date, on=on)]
    if not students:
        raise Invalid(
            ["school_code"],
            "No enrolled compulsory-age students at this school in your scope",
            code="unknown_school",
        )
    area = students[0].area_code
    v = Verification(
        school_code=data.school_code,
        area_code=area,
        semester=data.semester,
        expected=len(students),
        created_by=principal.username,
    )
    session.add(v)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The {data.semester} check of this school already exists") from exc
    session.add_all(
        VerificationItem(verification_id=v.id, student_id=s.id, name=s.name, stage=s.stage, grade=s.grade)
        for s in students
    )
    await session.flush()
    await emit_all(session, [_created_event(v)])
    await add_tasks(
        session,
        [
            task_row(
                key=f"verification:{v.id}",
                kind="complete_verification",
                role="school",
                verification_id=v.id,
                school_code=v.school_code,
                area_code=v.area_code,
                due_on=today_local() + timedelta(days=7),
                title=f"开学核查：{v.semester}，待确认{v.expected}人",
            )
        ],
    )
    return v


def _created_event(v: Verification) -> dict:
    return event(
        "edu.dropout.verification.created",
        subject=str(v.id),
        area_code=v.area_code,
        school_code=v.school_code,
        version=v.version,
        data={
            "verification_id": str(v.id),
            "school_code": v.school_code,
            "area_code": v.area_code,
            "semester": v.semester,
            "year": Semester.parse(v.semester).year,
            "expected": v.expected,
            "status": v.status,
        },
    )


def _validate(results: list[ResultIn], items: dict[uuid.UUID, VerificationItem]) -> None:
    seen = set()
    for n, r in enumerate(results):
        if r.student_id not in items:
            raise Invalid(
                [n, "student_id"], "The student is not on this check's list", code="unknown_student"
            )
        if r.student_id in seen:
            raise Invalid([n, "student_id"], "The student appears twice", code="duplicate")
        seen.add(r.student_id)
        if not r.arrived and r.reason is None:
            raise Invalid([n, "reason"], "A student not arrived needs a reason", code="missing")
        if r.arrived and r.reason is not None:
            raise Invalid([n, "reason"], "A reason is only for a student not arrived")


async def record_results(
    session: AsyncSession, principal: Principal, *, verification: Verification, results: list[ResultIn]
) -> Verification:
    """Record arrivals; each one not arrived without explanation becomes a case."""
    if principal.role not in WRITERS:
        raise Forbidden("Only school, county and admin users record the check")
    items = {
        i.student_id: i
        for i in (
            await session.execute(
                select(VerificationItem)
                .where(VerificationItem.verification_id == verification.id)
                .with_for_update()
            )
        ).scalars()
    }
    _validate(results, items)
    students = {
        s.id: s
        for s in (
            await session.execute(select(Student).where(Student.id.in_([r.student_id for r in results])))
        ).scalars()
    }
    events, changed, at = [], False, datetime.now(UTC)
    for r in results:
        item, reason = items[r.student_id], r.reason.value if r.reason else None
        if (item.arrived, item.reason, item.note) == (r.arrived, reason, r.note):
            continue
        changed = True
        item.arrived, item.reason, item.note = r.arrived, reason, r.note
        item.recorded_by, item.recorded_at = principal.username, at
        student = students.get(r.student_id)
        if reason == "unexplained" and item.case_id is None and student is not None:
            item.case_id = await _case_for(session, student, principal)
        session.add(item)
        if student is not None:
            events.append(_result_event(verification, item, student))
    if changed:
        await _finish(session, verification, list(items.values()), by=principal.username)
        await emit_all(session, events)
    return verification


async def _case_for(session: AsyncSession, student: Student, principal: Principal) -> uuid.UUID | None:
    case = await open_case(
        session,
        student=student,
        source=CaseSource.verification,
        opened_on=today_local(),
        actor=principal.username,
        note="开学核查未到校，原因不明",
    )
    if case is not None:
        return case.id
    return (
        await session.execute(
            select(Case.id).where(Case.student_id == student.id, Case.status.in_(ACTIVE_STATUSES))
        )
    ).scalar()


def _result_event(v: Verification, item: VerificationItem, student: Student) -> dict:
    return event(
        "edu.dropout.verification.result_recorded",
        subject=str(v.id),
        area_code=student.area_code,
        school_code=v.school_code,
        version=v.version,
        data=student_ref(student, semester_start(v.semester))
        | {
            "verification_id": str(v.id),
            "semester": v.semester,
            "year": Semester.parse(v.semester).year,
            "arrived": item.arrived,
            "reason": item.reason,
            "case_id": str(item.case_id) if item.case_id else None,
        },
    )


async def _finish(session: AsyncSession, v: Verification, items: list[VerificationItem], *, by: str) -> None:
    v.version += 1
    v.updated_at = now()
    if v.status == "open" and all(i.arrived is not None for i in items):
        v.status = "completed"
        await complete_tasks(session, Task.key == f"verification:{v.id}", by=by)
    session.add(v)
    await session.flush()


async def items_of(session: AsyncSession, v: Verification) -> list[VerificationItem]:
    return list(
        (
            await session.execute(
                select(VerificationItem)
                .where(VerificationItem.verification_id == v.id)
                .order_by(VerificationItem.grade, VerificationItem.name, VerificationItem.student_id)
            )
        ).scalars()
    )


def summary(items: list[VerificationItem]) -> dict:
    return {
        "expected": len(items),
        "arrived": sum(i.arrived is True for i in items),
        "not_arrived": sum(i.arrived is False for i in items),
        "pending": sum(i.arrived is None for i in items),
        "by_reason": dict(Counter(i.reason for i in items if i.arrived is False)),
    }
