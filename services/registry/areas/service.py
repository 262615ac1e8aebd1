"""Areas: create (one or many), list, read, rename — inside the caller's area."""

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.registry.areas.models import LEVELS, PARENT_LENGTH, Area
from services.registry.areas.schemas import AreaCreate, AreaUpdate
from services.registry.db import now
from services.registry.events import emit


def visible_to(principal: Principal):
    """Areas the caller may read: its own subtree and its ancestors."""
    return or_(
        within(Area.code, principal.area_code),
        Area.code.in_(ancestors(principal.area_code)),
    )


def ancestors(code: str) -> list[str]:
    return [code[:n] for n in (2, 4, 6, 9) if n < len(code)]


def can_write(principal: Principal, code: str) -> bool:
    """Admins and county users write areas inside their own area (never their own node)."""
    return (
        principal.role in (Role.admin, Role.county)
        and code.startswith(principal.area_code)
        and (code != principal.area_code or principal.role is Role.admin)
    )


async def get_area_or_404(session: AsyncSession, principal: Principal, code: str) -> Area:
    area = (
        await session.execute(select(Area).where(Area.code == code, visible_to(principal)))
    ).scalar_one_or_none()
    if area is None:
        raise NotFound(f"No area {code}")
    return area


async def create_areas(session: AsyncSession, principal: Principal, *, data: list[AreaCreate]) -> list[Area]:
    """Create areas (all or none); link parents and children that are stored."""
    codes = [d.code for d in data]
    for i, d in enumerate(data):
        if not can_write(principal, d.code):
            raise Forbidden(f"Area {d.code} is outside what you may manage")
        if codes.index(d.code) != i:
            raise Invalid([i, "code"], f"Duplicate code {d.code} in the request")
    # Parents first, so children in the same request find them.
    ordered = sorted(data, key=lambda d: len(d.code))
    stored: set[str] = set(
        (
            await session.execute(
                select(Area.code).where(
                    Area.code.in_(
                        {d.code[:n] for d in data for n in PARENT_LENGTH.values() if n < len(d.code)}
                    )
                )
            )
        ).scalars()
    )
    created = []
    for d in ordered:
        parent = d.code[: PARENT_LENGTH[len(d.code)]] if len(d.code) in PARENT_LENGTH else None
        area = Area(
            code=d.code,
            name=d.name,
            level=LEVELS[len(d.code)],
            parent_code=parent if parent in stored else None,
        )
        session.add(area)
        stored.add(d.code)
        created.append(area)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("An area with one of these codes already exists") from exc
    for area in created:
        # Children stored before their parent get linked now.
        await session.execute(
            update(Area)
            .where(
                Area.parent_code.is_(None),
                within(Area.code, area.code),
                Area.code != area.code,
                Area.level == LEVELS.get({2: 4, 4: 6, 6: 9, 9: 12}.get(len(area.code), 0), ""),
            )
            .values(parent_code=area.code)
        )
        await emit(
            session,
            "edu.registry.area.created",
            subject=area.code,
            area_code=area.code,
            version=area.version,
            data=area_data(area),
        )
    return [data_by_code for data_by_code in sorted(created, key=lambda a: codes.index(a.code))]


async def rename_area(
    session: AsyncSession, principal: Principal, *, area: Area, data: AreaUpdate, if_match: str | None
) -> Area:
    if not can_write(principal, area.code):
        raise Forbidden("You may not change this area")
    check_version(area.version, data.version, if_match)
    area.name = data.name
    area.version += 1
    area.updated_at = now()
    session.add(area)
    await session.flush()
    await emit(
        session,
        "edu.registry.area.updated",
        subject=area.code,
        area_code=area.code,
        version=area.version,
        data=area_data(area),
    )
    return area


def area_data(area: Area) -> dict:
    return {"code": area.code, "name": area.name, "level": area.level, "parent_code": area.parent_code}
