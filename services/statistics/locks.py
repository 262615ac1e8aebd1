"""Year locks: a locked year's figures are frozen as snapshots; later events for it are held."""

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from sqlalchemy import delete, literal, select, union
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden
from services.kit.rls import as_system, within
from services.statistics.facts.models import (
    ArrivalFact,
    CaseFact,
    CheckFact,
    LockedFigure,
    PaymentFact,
    PlacementFact,
    StudentFact,
    YearLock,
)
from services.statistics.figures import queries
from services.statistics.scope import FigureScope

Compute = Callable[[AsyncSession, FigureScope], Awaitable[dict]]


def year_figures(year: int) -> list[tuple[str, str, Compute]]:
    """Every figure of a year: (figure, period, how to compute it)."""
    spring, autumn = str(Semester(year, "spring")), str(Semester(year, "autumn"))
    out: list[tuple[str, str, Compute]] = [
        ("subsidy", "", lambda s, sc: queries.subsidy(s, sc, year=year, semester=None)),
        ("dropout", "", lambda s, sc: queries.dropout(s, sc, year=year)),
        ("disability", "", lambda s, sc: queries.disability(s, sc, year=year)),
        ("rates", "", lambda s, sc: queries.rates(s, sc, year=year)),
    ]
    for sem in (spring, autumn):
        out += [
            ("subsidy", sem, lambda s, sc, sem=sem: queries.subsidy(s, sc, year=None, semester=sem)),
            ("enrollment", sem, lambda s, sc, sem=sem: queries.enrollment(s, sc, semester=sem)),
            ("verification", sem, lambda s, sc, sem=sem: queries.verification(s, sc, semester=sem)),
        ]
    return out


async def lock_covering(session: AsyncSession, year: int, area_code: str) -> YearLock | None:
    return (
        (
            await session.execute(
                select(YearLock).where(
                    YearLock.year == year, literal(area_code).startswith(YearLock.area_code)
                )
            )
        )
        .scalars()
        .first()
    )


async def serve(
    session: AsyncSession,
    scope: FigureScope,
    figure: str,
    *,
    year: int,
    period: str,
    compute: Callable[[], Awaitable[dict]],
) -> dict:
    """Answer from the snapshot when the year is locked for the scope's area, else compute."""
    if await lock_covering(session, year, scope.area_code) is None:
        return await compute()
    snap = await session.get(LockedFigure, (year, figure, scope.key, period))
    if snap is None:
        # No snapshot of this scope (a breakdown by stage or category, a scope with no data when the
        # year was locked): computed now, so not claimed as frozen.
        return {**await compute(), "locked": False}
    return {**snap.payload, "locked": True}


async def _scopes(session: AsyncSession, area: str) -> list[FigureScope]:
    """Every area (each level), village and school with data inside `area`."""
    tables = [StudentFact, PaymentFact, CaseFact, PlacementFact, ArrivalFact]
    areas = union(
        *[select(t.area_code.label("a")).where(within(t.area_code, area)) for t in [*tables, CheckFact]]
    )
    villages = union(*[select(t.village_code.label("v")).where(within(t.village_code, area)) for t in tables])
    schools = union(
        *[select(t.school_code.label("s")).where(within(t.area_code, area)) for t in [*tables, CheckFact]]
    )
    codes = {
        c[:n]
        for (c,) in (await session.execute(areas)).all()
        if c
        for n in (2, 4, 6, 9, 12)
        if n <= len(c) and n >= len(area)
    }
    out = [FigureScope(Principal("lock", "lock", Role.county, a), a, None) for a in sorted(codes)]
    # The same areas counted by household (basis=household: our children wherever they study).
    out += [
        FigureScope(Principal("lock", "lock", Role.county, a), a, None, basis="household")
        for a in sorted(codes)
    ]
    out += [
        FigureScope(Principal("lock", "lock", Role.village, v), v, None)
        for (v,) in (await session.execute(villages)).all()
        if v
    ]
    out += [
        FigureScope(Principal("lock", "lock", Role.school, area, school_code=s), area, None)
        for (s,) in (await session.execute(schools)).all()
        if s
    ]
    return out


async def lock_year(session: AsyncSession, principal: Principal, *, year: int, area_code: str) -> dict:
    """Freeze a year's figures for an area: snapshot every figure for every scope inside it."""
    if principal.role not in (Role.admin, Role.county):
        raise Forbidden("Only county and admin users lock years")
    if await lock_covering(session, year, area_code):
        raise Conflict(f"{year} is already locked for {area_code}")
    session.add(
        YearLock(year=year, area_code=area_code, locked_at=datetime.now(UTC), actor=principal.username)
    )
    await session.flush()
    # Every scope inside the area is frozen as its own users see it: a village's children at schools
    # beyond the area count for the village. The snapshots are computed across scopes on purpose
    # (kit.rls); each one's own filter (FigureScope.where) keeps it to its scope.
    async with as_system(session):
        scopes = await _scopes(session, area_code)
        await session.execute(
            delete(LockedFigure).where(LockedFigure.year == year, within(LockedFigure.scope, area_code))
        )
        count = 0
        for scope in scopes:
            for figure, period, compute in year_figures(year):
                payload = await compute(session, scope)
                await session.execute(
                    insert(LockedFigure.__table__)
                    .values(year=year, figure=figure, scope=scope.key, period=period, payload=payload)
                    .on_conflict_do_update(
                        index_elements=["year", "figure", "scope", "period"], set_={"payload": payload}
                    )
                )
                count += 1
    return {"year": year, "area_code": area_code, "locked_by": principal.username, "snapshots": count}
