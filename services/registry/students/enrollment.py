"""Enrollment changes: every step kept as history, one student across schools and counties.

A move into a school of another county is only a request until that county accepts it
(services.registry.transfers): no county is made to enroll, and pay, a child it never accepted.
"""

from datetime import timedelta

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid
from services.kit.rls import as_system, flush_as_system
from services.registry.db import now
from services.registry.schools.models import School
from services.registry.students.models import EnrollmentChange, Student
from services.registry.students.schemas import EnrollmentChangeCreate
from services.registry.students.service import WRITERS, emit_student
from services.registry.transfers.models import TransferRequest
from services.registry.transfers.requests import request_transfer

ACTIVE = {"enrolled", "home_taught"}
AWAY = {"suspended", "deferred", "dropped_out", "out_of_county", "transferred_out", "home_taught"}
# kind → (statuses it may start from, the status it leads to)
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "transfer": (ACTIVE | {"suspended", "deferred", "out_of_county"}, "enrolled"),
    "suspend": (ACTIVE, "suspended"),
    "defer": (ACTIVE, "deferred"),
    "home_teaching": ({"enrolled", "suspended", "deferred"}, "home_taught"),
    "out_of_county": (ACTIVE | {"suspended", "deferred"}, "out_of_county"),
    "graduate": (ACTIVE, "graduated"),
    "drop_out": (ACTIVE | {"suspended"}, "dropped_out"),
    "return": (AWAY, "enrolled"),
    "deceased": (
        {
            "enrolled",
            "home_taught",
            "suspended",
            "deferred",
            "out_of_county",
            "transferred_out",
            "dropped_out",
            "graduated",
        },
        "deceased",
    ),
}


async def _target_school(session: AsyncSession, principal: Principal, code: str) -> School:
    # The receiving school may be in another county (one student across counties): a lookup across
    # scopes on purpose (kit.rls).
    async with as_system(session):
        school = await session.get(School, code)
    if school is None:
        raise Invalid(["details", "school_code"], f"Unknown school {code}", code="unknown_school")
    return school


def in_callers_county(principal: Principal, school: School) -> bool:
    """Whether a school lies in the caller's county (an admin: its whole area), where it may enroll."""
    return school.area_code.startswith(principal.area_code[:6])


async def check_change(
    session: AsyncSession, principal: Principal, *, student: Student, data: EnrollmentChangeCreate
) -> School | None:
    """Refuse a change that cannot apply to the student now; return the receiving school, if any."""
    allowed_from, _ = TRANSITIONS[data.kind]
    if student.status not in allowed_from:
        raise Conflict(f"A student who is {student.status} cannot {data.kind.replace('_', ' ')}")
    too_late = data.effective_date > calendar.today() + timedelta(days=31)
    if too_late or data.effective_date < student.birth_date:
        raise Invalid(["effective_date"], "effective_date is implausible")
    d = data.details
    if data.kind == "out_of_county" and not (d.province or d.county or d.school_name):
        raise Invalid(
            ["details"], "Say where the student studies (province, county or school_name)", code="missing"
        )
    if not (data.kind == "transfer" or (data.kind == "return" and d.school_code)):
        return None
    if data.kind == "transfer" and not d.school_code:
        raise Invalid(["details", "school_code"], "A transfer needs the receiving school", code="missing")
    if principal.role is Role.school and data.kind == "return" and d.school_code != principal.school_code:
        raise Invalid(["details", "school_code"], "A school can take a student back only into itself")
    school = await _target_school(session, principal, d.school_code)
    if data.kind == "transfer" and school.code == student.school_code:
        raise Invalid(["details", "school_code"], "The student is already at this school")
    stage = d.stage.value if d.stage else student.stage
    if stage not in school.stages:
        raise Invalid(["details", "stage"], f"School {school.code} does not offer {stage}")
    return school


async def change_enrollment(
    session: AsyncSession, principal: Principal, *, student: Student, data: EnrollmentChangeCreate
) -> EnrollmentChange | TransferRequest:
    """Apply one enrollment change to a student in scope and record it; a move into another county's
    school becomes a request that county accepts (the student stays where it is until then)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, school and admin users change enrollment")
    school = await check_change(session, principal, student=student, data=data)
    if school is not None and not in_callers_county(principal, school):
        return await request_transfer(session, principal, student=student, data=data, school=school)
    return await apply_change(session, actor=principal.username, student=student, data=data, school=school)


async def apply_change(
    session: AsyncSession, *, actor: str, student: Student, data: EnrollmentChangeCreate,
    school: School | None, extra: dict | None = None,
) -> EnrollmentChange:
    """Change the student's enrollment as checked by `check_change`, keep it as history, emit it."""
    _, to_status = TRANSITIONS[data.kind]
    d = data.details
    from_school, from_status = student.school_code, student.status
    if school is not None:
        stage = d.stage.value if d.stage else student.stage
        student.school_code, student.area_code, student.stage = school.code, school.area_code, stage
    for key in ("grade", "class_name", "boarding"):
        if getattr(d, key) is not None:
            setattr(student, key, getattr(d, key))
    student.status = to_status
    student.version += 1
    student.updated_at = now()
    change = EnrollmentChange(
        student_id=student.id,
        kind=data.kind,
        effective_date=data.effective_date,
        from_status=from_status,
        to_status=to_status,
        from_school_code=from_school,
        to_school_code=student.school_code,
        stage=student.stage,
        grade=student.grade,
        details=d.model_dump(mode="json", exclude_none=True) | (extra or {}),
        reason=data.reason,
        actor=actor,
    )
    session.add_all([student, change])
    if student.school_code != from_school:
        # The student may move to a school outside the caller's area, where the wall would refuse the
        # moved row: this write crosses scopes on purpose (kit.rls).
        await flush_as_system(session)
    else:
        await session.flush()
    await emit_student(
        session,
        student,
        "enrollment_changed",
        change={
            "id": str(change.id),
            "kind": change.kind,
            "effective_date": change.effective_date.isoformat(),
            "from_status": from_status,
            "to_status": to_status,
            "from_school_code": from_school,
            "to_school_code": student.school_code,
            "details": change.details,
            "reason": change.reason,
            "actor": change.actor,
        },
    )
    return change


def history_query(student: Student):
    return select(EnrollmentChange).where(EnrollmentChange.student_id == student.id)
