from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.versioning import IfMatch
from services.registry.domain import Stage
from services.registry.schools import service
from services.registry.schools.models import School
from services.registry.schools.schemas import SchoolCreate, SchoolPublic, SchoolUpdate

router = APIRouter(prefix="/api/v1/schools", tags=["schools"])
SchoolCode = Annotated[str, Path(pattern=r"^[0-9]{10}$", description="10-digit school code")]


async def school_in_scope(code: SchoolCode, session: SessionDep, principal: CurrentPrincipal) -> School:
    return await service.get_school_or_404(session, principal, code)


SchoolInScope = Annotated[School, Depends(school_in_scope)]


@router.post(
    "", status_code=201, response_model=SchoolPublic, summary="Create a school", responses=problems(403, 409)
)
async def create_school(data: SchoolCreate, session: SessionDep, principal: CurrentPrincipal) -> School:
    """Create a school (admin, or county user inside its county)."""
    return await service.create_school(session, principal, data=data)


@router.get("", response_model=Page[SchoolPublic], summary="List schools")
async def list_schools(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    stage: Stage | None = None,
    q: Annotated[str | None, Query(max_length=100)] = None,
    updated_since: UpdatedSince = None,
):
    """List the schools inside the caller's scope."""
    stmt = select(School).where(service.visible_to(principal))
    if area_code:
        stmt = stmt.where(within(School.area_code, area_code))
    if stage:
        stmt = stmt.where(School.stages.any(stage.value))
    if q:
        stmt = stmt.where(School.name.contains(q, autoescape=True))
    if updated_since:
        stmt = stmt.where(School.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[School.code],
        limit=limit,
        cursor=cursor,
        key=lambda s: [s.code],
        to_item=SchoolPublic.model_validate,
    )


@router.get("/{code}", response_model=SchoolPublic, summary="Read a school", responses=problems(404))
async def read_school(school: SchoolInScope) -> School:
    return school


@router.patch(
    "/{code}", response_model=SchoolPublic, summary="Update a school", responses=problems(403, 404, 409)
)
async def update_school(
    school: SchoolInScope,
    data: SchoolUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> School:
    return await service.update_school(session, principal, school=school, data=data, if_match=if_match)
