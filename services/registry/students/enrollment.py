"""Enrollment changes: every step kept as history, one student across schools and counties.

A move into a school of another county is only a request until that county accepts it
(services.registry.transfers): no county is made to enroll, and pay, a child it never accepted.
"""

import uuid
from datetime import timedelta

from sqlalchemy import exists, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import as_system, flush_as_system, within
from services.registry.db import now
from services.registry.schools.models import School
from services.registry.students.models import EnrollmentChange, Student
from services.registry.students.schemas import EnrollmentChangeCreate
from services.registry.students.service import WRITERS, emit_student, visible_to
from services.registry.transfers.models import TransferRequest
from services.registry.transfers.requests import request_transfer

ACTIVE = {"enrolled", "home_taught"}
AWAY = {"suspended", "deferred", "dropped_out", "out_of_county", "transferred_out", "home_taught"}
# A child at no school: a graduate (升学 opens its next stage) or one who left its school.
NO_SCHOOL = {"graduated", "dropped_out", "transferred_out"}
# kind → (statuses it may start from, the status it leads to)
TRANSITIONS: dict[str, tuple[set[str], str]] = {
    "enroll": (NO_SCHOOL, "enrolled"),
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
    if data.kind == "enroll":
        return await _check_enroll(session, principal, student=student, data=data)
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


async def _check_enroll(
    session: AsyncSession, principal: Principal, *, student: Student, data: EnrollmentChangeCreate
) -> School:
    """Refuse an enroll (升学) without its school, stage and grade, or dated before the last step."""
    d = data.details
    for key in ("school_code", "stage", "grade"):
        if getattr(d, key) is None:
            raise Invalid(["details", key], f"An enroll needs the {key.replace('_', ' ')}", code="missing")
    last = (
        await session.execute(
            select(func.max(EnrollmentChange.effective_date)).where(
                EnrollmentChange.student_id == student.id, EnrollmentChange.from_status.is_not(None)
            )
        )
    ).scalar_one_or_none()
    if last is not None and data.effective_date < last:
        raise Invalid(["effective_date"], f"effective_date is before the student's last change ({last})")
    school = await _target_school(session, principal, d.school_code)
    if d.stage.value not in school.stages:
        raise Invalid(["details", "stage"], f"School {school.code} does not offer {d.stage.value}")
    return school


async def change_enrollment(
    session: AsyncSession, principal: Principal, *, student: Student, data: EnrollmentChangeCreate
) -> EnrollmentChange | TransferRequest:
    """Apply one enrollment change to a student in scope and record it; a move into another county's
    school becomes a request that county accepts (the student stays where it is until then)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, school and admin users change enrollment")
    school = await check_change(session, principal, student=student, data=data)
    # A child at no school leaves none: its next stage opens in any county without a request (the
    # receiving county then sees it; the sending county keeps the history, see models.EnrollmentChange).
    if school is not None and data.kind != "enroll" and not in_callers_county(principal, school):
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
    from_area, from_stage = student.area_code, student.stage
    if school is not None:
        stage = d.stage.value if d.stage else student.stage
        student.school_code, student.area_code, student.stage = school.code, school.area_code, stage
    if data.kind == "enroll":  # a new stage: a new class; boarding only as told
        student.class_name, student.boarding = None, False
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
        from_area_code=from_area,
        to_area_code=student.area_code,
        village_code=student.village_code,
        from_stage=from_stage,
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
            "from_area_code": from_area,
            "to_area_code": student.area_code,
            "from_stage": from_stage,
            "details": change.details,
            "reason": change.reason,
            "actor": change.actor,
        },
    )
    return change


def changes_visible_to(principal: Principal):
    """Changes the caller may read: of a student it sees, or touching its own place (the history a
    county keeps of a graduate who went on elsewhere: the steps at its schools, or of its villages)."""
    c = EnrollmentChange
    student_visible = exists().where(Student.id == c.student_id, visible_to(principal))
    if principal.role is Role.school:
        own = or_(c.from_school_code == principal.school_code, c.to_school_code == principal.school_code)
    elif principal.role is Role.village:
        own = within(c.village_code, principal.area_code)
    else:
        area = principal.area_code
        own = or_(within(c.from_area_code, area), within(c.to_area_code, area), within(c.village_code, area))
    return or_(student_visible, own)


async def history_query(session: AsyncSession, principal: Principal, student_id: uuid.UUID):
    """The caller's part of a student's history; 404 when it has none (never had the student)."""
    stmt = select(EnrollmentChange).where(
        EnrollmentChange.student_id == student_id, changes_visible_to(principal)
    )
    if (await session.execute(stmt.limit(1))).first() is None:
        raise NotFound("No such student")
    return stmt
