"""Disabled children: one placement a year, and the log of home-teaching sessions."""

import uuid

from sqlalchemy import Select, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.db import now
from services.dropout.disability.models import HomeTeachingSession, Placement
from services.dropout.disability.schemas import PlacementCreate, PlacementUpdate, SessionCreate
from services.dropout.domain import NEEDS_REASON, today_local
from services.dropout.domain import Placement as Kind
from services.dropout.events import emit_all, event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_for_write, student_ref, visible_to
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.versioning import check_version

WRITERS = (Role.admin, Role.county, Role.school)


def _writer(principal: Principal) -> None:
    if principal.role not in WRITERS:
        raise Forbidden("Only school, county and admin users record placements and sessions")


def is_disabled(student: Student) -> bool:
    return "disabled" in student.groups or student.disability is not None or "disabled" in student.categories


def placements_in_scope(principal: Principal) -> Select:
    return (
        select(Placement, Student)
        .join(Student, Student.id == Placement.student_id)
        .where(visible_to(principal))
    )


def sessions_in_scope(principal: Principal) -> Select:
    return (
        select(HomeTeachingSession)
        .join(Student, Student.id == HomeTeachingSession.student_id)
        .where(visible_to(principal))
    )


def _check_reason(placement: str, reason: str | None) -> None:
    if placement in NEEDS_REASON and not reason:
        raise Invalid(["reason"], f"A {placement} placement needs a reason", code="missing")


def _placement_event(p: Placement, student: Student) -> dict:
    return event(
        "edu.dropout.placement.recorded",
        subject=str(p.id),
        area_code=student.area_code,
        school_code=student.school_code,
        version=p.version,
        data=student_ref(student)
        | {"placement_id": str(p.id), "year": p.year, "placement": p.placement, "has_reason": bool(p.reason)},
    )


async def create_placement(session: AsyncSession, principal: Principal, *, data: PlacementCreate) -> tuple:
    """Record a disabled child's placement for a year (a second one for the same year gets 409)."""
    _writer(principal)
    student = await student_for_write(session, principal, data.student_id)
    if not is_disabled(student):
        raise Invalid(["student_id"], "The student is not registered as disabled", code="not_disabled")
    if data.year > today_local().year + 1:
        raise Invalid(["year"], "year is too far ahead")
    _check_reason(data.placement, data.reason)
    p = Placement(
        student_id=student.id,
        year=data.year,
        placement=data.placement.value,
        reason=data.reason,
        recorded_by=principal.username,
    )
    session.add(p)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The child already has a placement for {data.year}; change it instead") from exc
    await emit_all(session, [_placement_event(p, student)])
    return p, student


async def placement_or_404(
    session: AsyncSession, principal: Principal, pid: uuid.UUID, *, lock=False
) -> tuple:
    stmt = placements_in_scope(principal).where(Placement.id == pid)
    row = (await session.execute(stmt.with_for_update(of=Placement) if lock else stmt)).first()
    if row is None:
        raise NotFound("No such placement")
    return row[0], row[1]


async def update_placement(
    session: AsyncSession,
    principal: Principal,
    *,
    pid: uuid.UUID,
    data: PlacementUpdate,
    if_match: str | None,
) -> tuple:
    """Change a placement or its reason (`version` or If-Match)."""
    _writer(principal)
    p, student = await placement_or_404(session, principal, pid, lock=True)
    check_version(p.version, data.version, if_match)
    if data.placement is not None:
        p.placement = data.placement.value
    if "reason" in data.model_fields_set:
        p.reason = data.reason
    _check_reason(p.placement, p.reason)
    p.version += 1
    p.updated_at = now()
    session.add(p)
    await session.flush()
    await emit_all(session, [_placement_event(p, student)])
    return p, student


async def record_session(
    session: AsyncSession, principal: Principal, *, data: SessionCreate
) -> HomeTeachingSession:
    """Log a home-teaching session of a child placed in home teaching that year."""
    _writer(principal)
    student = await student_for_write(session, principal, data.student_id)
    if data.date > today_local():
        raise Invalid(["date"], "The date is in the future")
    placement = (
        await session.execute(
            select(Placement).where(
                Placement.student_id == student.id,
                Placement.year == data.date.year,
                Placement.placement == Kind.home_teaching,
            )
        )
    ).scalar_one_or_none()
    if placement is None:
        raise Invalid(
            ["date"], f"The child has no home-teaching placement in {data.date.year}", code="no_home_teaching"
        )
    s = HomeTeachingSession(**data.model_dump(), placement_id=placement.id, recorded_by=principal.username)
    session.add(s)
    await session.flush()
    await emit_all(
        session,
        [
            event(
                "edu.dropout.session.recorded",
                subject=str(s.id),
                area_code=student.area_code,
                school_code=student.school_code,
                version=1,
                data=student_ref(student, s.date)
                | {
                    "session_id": str(s.id),
                    "date": s.date.isoformat(),
                    "year": s.date.year,
                    "duration_minutes": s.duration_minutes,
                },
            )
        ],
    )
    return s
