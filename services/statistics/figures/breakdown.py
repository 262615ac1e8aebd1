"""Breakdowns in one call: a figure for the scope and for each of its townships, schools, villages,
stages or categories (`group_by=`), placed by school or by household (`basis=`).

Each group is the same figure computed for the scope narrowed to the group (FigureScope.of_group), so
every figure breaks down the same way and a group means exactly what the figure means. By township,
school or village (and by stage) every child is in one group, so the groups add up to the scope's
figure; by category a child of two categories is in both (`none`: children of no category).
A locked year's group is served from the snapshot of the scope it equals (a township, a school, a
village: year locks freeze those), other groups are computed from the projections. The subsidy and
enrollment figures compute every group at once from the rollups (`grouped`: figures.rollups), one
grouped query per part of the figure, instead of once per group.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal

from fastapi import Query
from sqlalchemy import func, literal, null, select, union
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Role
from services.kit.errors import Invalid
from services.statistics.facts.models import CaseFact, PaymentFact, StudentFact
from services.statistics.figures import path
from services.statistics.locks import lock_covering, serve
from services.statistics.scope import FigureScope

Dimension = Literal["township", "school", "village", "stage", "category"]
GroupBy = Annotated[
    Dimension | None,
    Query(
        description="Break the figure down in the same call: by `township`, `school`, `village` (the "
        "household's village), `stage` or `category` (aid category; a child of two is in both). Each "
        "group is the whole figure for that group, under `groups`; `unknown` / `none` gather rows without "
        "the dimension, so groups by township, school, village or stage add up to the total."
    ),
]
UNKNOWN = {"category": "none"}
TOWNSHIP_DIGITS = 9


async def group_values(session: AsyncSession, scope: FigureScope, dim: str) -> list[str | None]:
    """The groups of a breakdown with data in the scope (None: the rows without the dimension)."""
    sources = (StudentFact, PaymentFact, CaseFact)

    def column(model):
        if dim == "township":
            col = model.village_code if scope.by_household else model.area_code
            return func.left(col, TOWNSHIP_DIGITS)
        if dim == "village":
            return model.village_code
        if dim == "school":
            return model.school_code
        if dim == "stage":
            return model.stage
        return func.unnest(model.categories)

    if dim == "category":
        sources = tuple(m for m in sources if hasattr(m, "categories"))
    parts = [select(column(m).label("v")).where(scope.where(m)) for m in sources]
    if dim == "category":
        parts.append(select(null().label("v")).where(literal(True)))
    values = [v for (v,) in (await session.execute(union(*parts))).all()]
    return sorted({v for v in values if v is not None}) + ([None] if None in values else [])


def label(dim: str, value: str | None) -> str:
    return value if value is not None else UNKNOWN.get(dim, "unknown")


async def figure(
    session: AsyncSession,
    scope: FigureScope,
    name: str,
    *,
    compute: Callable[[FigureScope], Awaitable[dict]],
    year: int | None,
    period: str = "",
    group_by: str | None = None,
    grouped: Callable[[FigureScope, str, list], Awaitable[dict | None]] | None = None,
) -> dict:
    """The figure for the scope (a locked year's from its snapshot) and, with `group_by`, per group.

    `grouped(scope, dim, values)`: every group's figure at once ({value: figure}, or None when it
    cannot), used unless the year is locked for the scope (groups then come from their snapshots).
    """

    async def one(sc: FigureScope) -> dict:
        async def run() -> dict:
            if sc.by_household and sc.principal.role is not Role.village:
                # Children of the area's households at schools anywhere: the rows cross scopes on
                # purpose (kit.rls); the scope's own filter (by household village) keeps them ours.
                async with path.across_scopes(session):
                    return await compute(sc)
            return await compute(sc)

        return await serve(session, sc, name, year=year, period=period, compute=run) if year else await run()

    payload = await one(scope)
    if not group_by:
        return payload
    crossing = scope.by_household and scope.principal.role is not Role.village
    if crossing:
        async with path.across_scopes(session):
            values = await group_values(session, scope, group_by)
    else:
        values = await group_values(session, scope, group_by)
    together = None
    if grouped is not None and not (year and await lock_covering(session, year, scope.area_code)):
        if crossing:
            async with path.across_scopes(session):
                together = await grouped(scope, group_by, values)
        else:
            together = await grouped(scope, group_by, values)
    if together is not None:
        groups = {label(group_by, v): together[v] for v in values}
    else:
        groups = {label(group_by, v): await one(scope.of_group(group_by, v)) for v in values}
    return payload | {"group_by": group_by, "basis": scope.basis, "groups": groups}


def refuse(figure_name: str, dims: tuple[str, ...], group_by: str | None, scope: FigureScope) -> None:
    """422 for a breakdown a figure cannot make (its records do not carry the dimension)."""
    if group_by is not None and group_by not in dims:
        raise Invalid("group_by", f"the {figure_name} figure breaks down by {', '.join(dims)} only")
    if scope.basis == "household" and "household" not in dims:
        raise Invalid("basis", f"the {figure_name} figure is counted by school only")
