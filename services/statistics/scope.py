"""Which area a figure is asked for, checked against the caller's scope; the SQL filter for it."""

from dataclasses import dataclass, replace
from typing import Annotated, Literal

from fastapi import Depends, Query
from sqlalchemy import and_, exists, func, or_, select, true
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
    basis: str = "school"  # school: where the school is; household: where the child's household lives
    group: tuple[str, str | None] | None = None  # one group of a breakdown: (dimension, value)

    @property
    def by_household(self) -> bool:
        """Whether rows are placed by the household's village (village users always are)."""
        return self.principal.role is Role.village or (
            self.basis == "household" and self.principal.role is not Role.school
        )

    @property
    def key(self) -> str:
        """The key of locked snapshots: the school, the village (for village users), or the area.

        A group of a breakdown uses the snapshot of the scope it equals (a township, a school, a
        village), so a locked year's breakdown stands still too; other breakdowns have keys of their own.
        """
        if self.group is not None:
            dim, value = self.group
            plain = value is not None and not self.school_code and self.principal.role is not Role.school
            if plain and dim == "school" and not self.by_household:
                return f"school:{value}"  # the whole school, as its own users see it
            if plain and dim == "village" and self.by_household:
                return f"village:{value}"  # the village's children wherever they study
            if plain and dim == "township" and not self.by_household:
                return value
            return f"{self._key()}|{self.basis}|{dim}:{value}"
        if self.by_household and self.principal.role is not Role.village and not self.school_code:
            return f"hh:{self.area_code}"  # snapshotted by year locks beside the area's own
        return self._key()

    def _key(self) -> str:
        if self.school_code or self.principal.role is Role.school:
            return f"school:{self.school_code or self.principal.school_code}"
        if self.principal.role is Role.village:
            return f"village:{self.area_code}"
        return self.area_code

    def of_group(self, dim: str, value: str | None) -> "FigureScope":
        """This scope narrowed to one group of a breakdown."""
        return replace(self, group=(dim, value))

    def where(self, model) -> ColumnElement:
        """SQL filter on a fact table with area_code, school_code and village_code columns."""
        p = self.principal
        parts = []
        if p.role is Role.school:
            parts.append(model.school_code == p.school_code)
        elif self.by_household:
            parts.append(within(model.village_code, self.area_code))
        else:
            parts.append(within(model.area_code, self.area_code))
        if self.school_code:
            parts.append(model.school_code == self.school_code)
        if self.group is not None:
            parts.append(group_filter(self, model, *self.group))
        return and_(true(), *parts)


def _student_ids(condition) -> object:
    return select(StudentFact.student_id).where(condition)


def group_filter(scope: FigureScope, model, dim: str, value: str | None) -> ColumnElement:
    """SQL: the row belongs to one group of a breakdown (null value: the rows without one).

    A record without the dimension of its own (stage or categories) is placed by its child's current
    stage or categories.
    """
    if dim in ("township", "village"):
        column = model.village_code if (dim == "village" or scope.by_household) else model.area_code
        return column.is_(None) if value is None else within(column, value)
    if dim == "school":
        return model.school_code.is_(None) if value is None else model.school_code == value
    if dim == "stage":
        if hasattr(model, "stage"):
            return model.stage.is_(None) if value is None else model.stage == value
        s = StudentFact
        cond = s.stage.is_(None) if value is None else s.stage == value
        return model.student_id.in_(_student_ids(cond))
    if dim == "category":
        if hasattr(model, "categories"):
            cats = model.categories
            return func.cardinality(cats) == 0 if value is None else cats.any(value)
        s = StudentFact
        cond = func.cardinality(s.categories) == 0 if value is None else s.categories.any(value)
        return model.student_id.in_(_student_ids(cond))
    raise ValueError(f"unknown breakdown {dim}")


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
    basis: Annotated[
        Literal["school", "household"],
        Query(
            description="Place children by where their school is (`school`, the default) or where their "
            "household lives (`household`: our children wherever they study, 分村)"
        ),
    ] = "school",
) -> FigureScope:
    if principal.role is Role.school and school_code and school_code != principal.school_code:
        raise NotFound(f"No school {school_code} in your scope")
    area = requested_area(principal, area_code)
    # Another area's school is a 404, as an unknown one is: zeros would let a caller probe other counties.
    if (
        school_code
        and principal.role is not Role.school
        and not await school_in_scope(session, principal, area=area, school_code=school_code)
    ):
        raise NotFound(f"No school {school_code} in your scope")
    return FigureScope(principal, area, school_code, as_of, basis=basis)


Scope = Annotated[FigureScope, Depends(figure_scope)]
