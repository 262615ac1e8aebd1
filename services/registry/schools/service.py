"""Schools: created by admins and county users inside their area."""

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.registry.areas.models import Area
from services.registry.db import now
from services.registry.events import emit
from services.registry.schools.models import School
from services.registry.schools.schemas import SchoolCreate, SchoolUpdate


def visible_to(principal: Principal):
    """Schools inside the caller's area; a school user sees its own school only."""
    if principal.role is Role.school:
        return School.code == principal.school_code
    if principal.role is Role.village:
        # Village users see the schools of their township (where their children study).
        return within(School.area_code, principal.area_code[:9])
    return within(School.area_code, principal.area_code)


async def get_school_or_404(session: AsyncSession, principal: Principal, code: str) -> School:
    school = (
        await session.execute(select(School).where(School.code == code, visible_to(principal)))
    ).scalar_one_or_none()
    if school is None:
        raise NotFound(f"No school {code}")
    return school


def _check_writer(principal: Principal, area_code: str) -> None:
    if principal.role not in (Role.admin, Role.county) or not area_code.startswith(principal.area_code):
        raise Forbidden("You may not manage schools in this area")


async def create_school(session: AsyncSession, principal: Principal, *, data: SchoolCreate) -> School:
    """Create a school in a stored area inside the caller's area."""
    _check_writer(principal, data.area_code)
    if await session.get(Area, data.area_code) is None:
        raise Invalid(["area_code"], f"Unknown area {data.area_code}", code="unknown_area")
    school = School(**data.model_dump())
    session.add(school)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(f"School {data.code} already exists") from exc
    await _emit(session, school, "created")
    return school


async def update_school(
    session: AsyncSession, principal: Principal, *, school: School, data: SchoolUpdate, if_match: str | None
) -> School:
    _check_writer(principal, school.area_code)
    check_version(school.version, data.version, if_match)
    for key, value in data.model_dump(exclude_unset=True, exclude={"version"}).items():
        if value is not None:
            setattr(school, key, sorted(set(value)) if key == "stages" else value)
    school.version += 1
    school.updated_at = now()
    session.add(school)
    await session.flush()
    await _emit(session, school, "updated")
    return school


async def _emit(session: AsyncSession, school: School, what: str) -> None:
    await emit(
        session,
        f"edu.registry.school.{what}",
        subject=school.code,
        area_code=school.area_code,
        school_code=school.code,
        version=school.version,
        data={
            "code": school.code,
            "name": school.name,
            "area_code": school.area_code,
            "ownership": school.ownership,
            "stages": list(school.stages),
        },
    )
