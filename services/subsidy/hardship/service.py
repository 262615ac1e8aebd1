"""Hardship identification (家庭经济困难学生认定): the school proposes, the township and county approve.

The same chain and public notice (公示) as batches (`batches.workflow`): a school user proposes a
child with a level and reason for a school year and submits it (the notice starts); the township
approves, then the county — not before the notice has run. Only the county's approval makes the
level count: batch generation reads the approved level of the child's school year as an
eligibility input (policies.rules `min_hardship_level`, policy `min_hardship_level`).
"""

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.calendar import Semester
from services.contracts.vocabulary import HARDSHIP_LEVEL_NAMES, HARDSHIP_RANK, HardshipLevel
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.settings import get_settings
from services.kit.versioning import check_version
from services.subsidy.batches.workflow import BACKDATE_LIMIT, COUNTY, first_level
from services.subsidy.db import now
from services.subsidy.events import emit
from services.subsidy.hardship.models import Hardship
from services.subsidy.hardship.schemas import HardshipCreate, HardshipDecide, HardshipReject, HardshipSubmit
from services.subsidy.notices.service import student_or_404

PROPOSERS = (Role.school, Role.county, Role.admin)
APPROVERS = (Role.township, *COUNTY)


def visible_to(principal: Principal):
    """Identifications of the children the caller sees (its school's, village's or area's)."""
    if principal.role is Role.school:
        return Hardship.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Hardship.village_code, principal.area_code)
    return within(Hardship.area_code, principal.area_code)


async def get_or_404(
    session: AsyncSession, principal: Principal, hardship_id: uuid.UUID, *, lock: bool = False
) -> Hardship:
    stmt = select(Hardship).where(Hardship.id == hardship_id, visible_to(principal))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("No such hardship identification")
    return row


async def propose(session: AsyncSession, principal: Principal, *, data: HardshipCreate) -> Hardship:
    """Propose a child of the caller's school (county: of its county) for a school year."""
    if principal.role not in PROPOSERS:
        raise Forbidden("Only school users (and the county) propose hardship identifications")
    if data.school_year > Semester.of(calendar.today()).school_year:
        raise Invalid(["school_year"], "school_year must not be after the current school year")
    student = await student_or_404(session, principal, data.student_id)
    if not student.school_code:
        raise Invalid(["student_id"], "The student is at no school", code="no_school")
    row = Hardship(
        student_id=student.student_id,
        student_name=student.name,
        household_id=student.household_id,
        area_code=student.area_code or principal.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
        school_year=data.school_year,
        level=data.level.value,
        rank=HARDSHIP_RANK[data.level],
        reason=data.reason,
        proposed_by=principal.username,
    )
    _step(row, principal, "proposed")
    session.add(row)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"The student already has a hardship identification for {data.school_year}") from exc
    await _emit(session, row, "proposed", principal)
    return row


async def submit(
    session: AsyncSession,
    principal: Principal,
    *,
    hardship_id: uuid.UUID,
    data: HardshipSubmit,
    if_match: str | None,
) -> Hardship:
    """Submit (or, after a rejection, resubmit) a proposal: the public notice (公示) starts."""
    if principal.role not in PROPOSERS:
        raise Forbidden("Only the school (or the county) submits a hardship identification")
    row = await get_or_404(session, principal, hardship_id, lock=True)
    _check_version(row, data.version, if_match)
    if row.status not in ("proposed", "rejected"):
        raise Conflict(f"A {row.status} identification cannot be submitted")
    today = calendar.today()
    start = data.publicity_start or today
    if start > today or start < today - BACKDATE_LIMIT:
        raise Invalid(["publicity_start"], "publicity_start must be today or up to 30 days back")
    days = get_settings().publicity_days
    row.publicity_start = start if days > 0 else None
    row.publicity_end = start + timedelta(days=days) if days > 0 else None
    if data.level is not None:
        row.level, row.rank = data.level.value, HARDSHIP_RANK[data.level]
    if data.reason is not None:
        row.reason = data.reason
    row.status, row.awaiting, row.decided_note = "submitted", first_level(row), None
    _step(row, principal, "submitted", note=data.note)
    await _save(session, row, "submitted", principal)
    return row


async def approve(
    session: AsyncSession,
    principal: Principal,
    *,
    hardship_id: uuid.UUID,
    data: HardshipDecide,
    if_match: str | None,
) -> Hardship:
    """Approve at the caller's level: the township first, then the county (after the notice)."""
    if principal.role not in APPROVERS:
        raise Forbidden("Only township and county users approve hardship identifications")
    row = await get_or_404(session, principal, hardship_id, lock=True)
    _check_version(row, data.version, if_match)
    if row.status != "submitted":
        raise Conflict(f"A {row.status} identification cannot be approved")
    if row.awaiting == "township":
        if principal.role is not Role.township:
            raise Conflict("The identification awaits the township's approval first")
        row.awaiting = "county"
        _step(row, principal, "approved", level="township", note=data.note)
        await _save(session, row, "endorsed", principal)
        return row
    if principal.role not in COUNTY:
        raise Conflict("The township has approved; the identification awaits the county")
    if row.publicity_end is not None and calendar.today() < row.publicity_end:
        raise Conflict(f"The public notice (公示) runs until {row.publicity_end - timedelta(days=1)}")
    row.status, row.awaiting = "approved", None
    _step(row, principal, "approved", level="county", note=data.note)
    await _save(session, row, "approved", principal)
    return row


async def reject(
    session: AsyncSession,
    principal: Principal,
    *,
    hardship_id: uuid.UUID,
    data: HardshipReject,
    if_match: str | None,
) -> Hardship:
    """Send a submitted identification back to the school with a reason."""
    if principal.role not in APPROVERS:
        raise Forbidden("Only township and county users reject hardship identifications")
    row = await get_or_404(session, principal, hardship_id, lock=True)
    _check_version(row, data.version, if_match)
    if row.status != "submitted":
        raise Conflict(f"A {row.status} identification cannot be rejected")
    if principal.role is Role.township and row.awaiting != "township":
        raise Conflict("The township may reject only an identification awaiting its approval")
    level = "township" if principal.role is Role.township else "county"
    row.status, row.awaiting, row.decided_note = "rejected", None, data.reason
    _step(row, principal, "rejected", level=level, note=data.reason)
    await _save(session, row, "rejected", principal)
    return row


async def revoke(
    session: AsyncSession,
    principal: Principal,
    *,
    hardship_id: uuid.UUID,
    data: HardshipReject,
    if_match: str | None,
) -> Hardship:
    """Revoke an approved level (the county): it no longer counts for batches generated from now on."""
    if principal.role not in COUNTY:
        raise Forbidden("Only the county revokes a hardship identification")
    row = await get_or_404(session, principal, hardship_id, lock=True)
    _check_version(row, data.version, if_match)
    if row.status != "approved":
        raise Conflict(f"A {row.status} identification cannot be revoked")
    row.status, row.decided_note = "revoked", data.reason
    _step(row, principal, "revoked", level="county", note=data.reason)
    await _save(session, row, "revoked", principal)
    return row


def _check_version(row: Hardship, version: int | None, if_match: str | None) -> None:
    """Optional, as for batches' transitions: a client that names a version must name the current one."""
    if version is not None or if_match:
        check_version(row.version, version, if_match)


def _step(row: Hardship, principal: Principal, action: str, *, level: str | None = None, note=None) -> None:
    step = {"action": action, "level": level, "actor": principal.username, "role": str(principal.role),
            "at": now().isoformat(), "note": note}  # fmt: skip
    row.steps = [*row.steps, step]


async def _save(session: AsyncSession, row: Hardship, what: str, principal: Principal) -> None:
    row.version += 1
    row.updated_at = now()
    session.add(row)
    await session.flush()
    await _emit(session, row, what, principal)


async def _emit(session: AsyncSession, row: Hardship, what: str, principal: Principal) -> None:
    data = {
        "id": str(row.id),
        "student_id": str(row.student_id),
        "household_id": str(row.household_id) if row.household_id else None,
        **{k: getattr(row, k) for k in ("area_code", "school_code", "village_code", "school_year", "level")},
        **{k: getattr(row, k) for k in ("reason", "status", "awaiting")},
        "note": row.decided_note,
        "actor": principal.username,
    }
    await emit(
        session,
        f"edu.subsidy.hardship.{what}",
        subject=str(row.id),
        area_code=row.area_code,
        school_code=row.school_code,
        version=row.version,
        data=data,
    )


def to_public(row: Hardship) -> dict:
    out = {k: getattr(row, k) for k in (
        "id", "student_id", "student_name", "household_id", "area_code", "school_code", "village_code",
        "school_year", "level", "reason", "status", "awaiting", "publicity_start", "publicity_end",
        "decided_note", "proposed_by", "steps", "version", "created_at", "updated_at")}  # fmt: skip
    return out | {"level_name": HARDSHIP_LEVEL_NAMES[HardshipLevel(row.level)]}
