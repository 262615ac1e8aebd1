"""Which area a figure is asked for, checked against the caller's scope; the SQL filter for it."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Query
from sqlalchemy import and_, exists, or_, select, true
from sqlalchemy.sql.elements import ColumnElement

from services.kit.auth import CurrentPrincipal, Principal, Role
from services.kit.barrier import AsOf, FreshProjection
from services.kit.db import SessionDep
from services.kit.errors import NotFound
from services.kit.rls import within
from services.statistics.facts.models import EnrollmentSpan, StudentFact


@dataclass(frozen=True)
class FigureScope:
    """The caller, the area reported on, and an optional single school."""

    principal: Principal
    area_code: str
    school_code: str | None
    as_of: AsOf | None = None  # what the projections reflect (kit.barrier): every write acknowledged before

    @property
    def key(self) -> str:
        """The key of locked snapshots: the school, the village (for village users), or the area."""
        if self.school_code or self.principal.role is Role.school:
            return f"school:{self.school_code or self.principal.school_code}"
        if self.principal.role is Role.village:
            return f"village:{self.area_code}"
        return self.area_code

    def where(self, model) -> ColumnElement:
        """SQL filter on a fact table with area_code, school_code and village_code columns."""
        p = self.principal
        parts = []
        if p.role is Role.school:
            parts.append(model.school_code == p.school_code)
        elif p.role is Role.village:
            parts.append(within(model.village_code, self.area_code))
        else:
            parts.append(within(model.area_code, self.area_code))
        if self.school_code:
            parts.append(model.school_code == self.school_code)
        return and_(true(), *parts)


def requested_area(principal: Principal, area_code: str | None) -> str:
    """Return the area to report on: the caller's own by default, never outside it."""
    code = area_code or principal.area_code
    if not code.startswith(principal.area_code):
        raise NotFound(f"No area {code} in your scope")
    return code


async def school_in_scope(session, principal: Principal, *, area: str, school_code: str) -> bool:
    """Whether the facts place the school inside the area (now or in any enrollment span)."""

    def inside(model):
        column = model.village_code if principal.role is Role.village else model.area_code
        return and_(model.school_code == school_code, within(column, area))

    stmt = select(or_(exists().where(inside(StudentFact)), exists().where(inside(EnrollmentSpan))))
    return bool(await session.scalar(stmt))


async def figure_scope(
    as_of: FreshProjection,
    principal: CurrentPrincipal,
    session: SessionDep,
    area_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,12}$", description="Default: the caller's area")
    ] = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$", description="Only this school")] = None,
) -> FigureScope:
    if principal.role is Role.school and school_code and school_code != principal.school_code:
        raise NotFound(f"No school {school_code} in your scope")
    area = requested_area(principal, area_code)
    # Another area's school is a 404, as an unknown one is: zeros would let a caller probe other counties.
    if school_code and principal.role is not Role.school and not await school_in_scope(
            session, principal, area=area, school_code=school_code):
        raise NotFound(f"No school {school_code} in your scope")
    return FigureScope(principal, area, school_code, as_of)


Scope = Annotated[FigureScope, Depends(figure_scope)]
