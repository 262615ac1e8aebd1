"""Households and their dated statuses; a status change re-derives the students' categories."""

import uuid

from sqlalchemy import exists, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import as_system, within
from services.kit.versioning import check_version
from services.registry.areas.models import Area
from services.registry.db import now
from services.registry.domain import categories_of, current_kinds
from services.registry.events import emit
from services.registry.households.models import Household
from services.registry.households.schemas import HouseholdCreate, HouseholdUpdate
from services.registry.students.models import Student

WRITERS = (Role.admin, Role.county, Role.school)


def visible_to(principal: Principal):
    """Households in the caller's area; a school sees those of its own students."""
    if principal.role is Role.school:
        # Its own alias: a query that already selects students (a lookup by ID number) must not
        # have them correlated away.
        pupil = aliased(Student)
        return exists().where(pupil.household_id == Household.id, pupil.school_code == principal.school_code)
    return within(Household.area_code, principal.area_code)


async def get_household_or_404(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID
) -> Household:
    household = (
        await session.execute(select(Household).where(Household.id == household_id, visible_to(principal)))
    ).scalar_one_or_none()
    if household is None:
        raise NotFound("No such household")
    return household


def _writable_area(principal: Principal) -> str:
    """The area inside which the caller may write households (a school: its county)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, school and admin users write households")
    return principal.area_code[:6] if principal.role is Role.school else principal.area_code


async def _check_village(session: AsyncSession, principal: Principal, area_code: str) -> None:
    if not area_code.startswith(_writable_area(principal)):
        raise Invalid(["area_code"], f"Village {area_code} is outside your area", code="out_of_scope")
    if await session.get(Area, area_code) is None:
        raise Invalid(["area_code"], f"Unknown village {area_code}", code="unknown_area")


async def create_household(
    session: AsyncSession, principal: Principal, *, data: HouseholdCreate
) -> Household:
    """Create a household in a stored village inside the caller's area."""
    await _check_village(session, principal, data.area_code)
    household = Household(
        platform_id=data.platform_id,
        head_name=data.head_name,
        area_code=data.area_code,
        statuses=[s.model_dump(mode="json") for s in data.statuses],
    )
    session.add(household)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"A household with platform_id {data.platform_id} already exists") from exc
    await emit_household(session, household, "created", previous=set())
    return household


async def update_household(
    session: AsyncSession,
    principal: Principal,
    *,
    household: Household,
    data: HouseholdUpdate,
    if_match: str | None,
) -> Household:
    """Change a household; students follow its village and statuses."""
    _writable_area(principal)
    check_version(household.version, data.version, if_match)
    changes = data.model_dump(exclude_unset=True, exclude={"version"})
    if changes.get("area_code"):
        await _check_village(session, principal, changes["area_code"])
    previous = current_kinds(household.statuses)
    for key, value in changes.items():
        if value is None and key != "platform_id":
            continue
        if key == "statuses":
            value = [s.model_dump(mode="json") for s in data.statuses or []]
        setattr(household, key, value)
    household.version += 1
    household.updated_at = now()
    session.add(household)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("Another household has this platform_id") from exc
    await emit_household(session, household, "updated", previous=previous)
    await refresh_students(session, household)
    return household


async def refresh_students(session: AsyncSession, household: Household) -> None:
    """Re-derive village and categories of the household's students; emit what changed."""
    from services.registry.students.service import emit_student

    kinds = current_kinds(household.statuses)
    # The household's children may study outside the caller's area; their categories follow the
    # household all the same (不漏): derived data kept across scopes on purpose (kit.rls).
    async with as_system(session):
        query = select(Student).where(Student.household_id == household.id)
        for student in (await session.execute(query)).scalars().all():
            categories = categories_of(groups=list(student.groups), household_kinds=kinds)
            if categories == list(student.categories) and student.village_code == household.area_code:
                continue
            student.categories = categories
            student.village_code = household.area_code
            student.version += 1
            student.updated_at = now()
            session.add(student)
            await session.flush()
            await emit_student(session, student, "updated")


async def emit_household(
    session: AsyncSession, household: Household, what: str, *, previous: set[str]
) -> None:
    kinds = current_kinds(household.statuses)
    data = household_data(household) | {
        "current_kinds": sorted(kinds),
        "became": sorted(kinds - previous),
        "ceased": sorted(previous - kinds),
    }
    await emit(
        session,
        f"edu.registry.household.{what}",
        subject=str(household.id),
        area_code=household.area_code,
        version=household.version,
        data=data,
    )
    if kinds != previous and what == "updated":
        await emit(
            session,
            "edu.registry.household.status_changed",
            subject=str(household.id),
            area_code=household.area_code,
            version=household.version,
            data=data,
        )


def household_data(household: Household) -> dict:
    return {
        "id": str(household.id),
        "platform_id": household.platform_id,
        "head_name": household.head_name,
        "area_code": household.area_code,
        "statuses": household.statuses,
    }


def to_public(household: Household) -> dict:
    return {**household.model_dump(), "current_kinds": sorted(current_kinds(household.statuses))}
