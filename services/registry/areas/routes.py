from typing import Annotated

from fastapi import APIRouter, Body, Depends, Path, Query
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal, Principal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.versioning import IfMatch
from services.registry.areas import service
from services.registry.areas.models import Area
from services.registry.areas.schemas import AreaCreate, AreaPublic, AreaUpdate

router = APIRouter(prefix="/api/v1/areas", tags=["areas"])
AreaCodePath = Annotated[str, Path(pattern=r"^[0-9]{2,12}$", description="Area code")]


async def area_in_scope(code: AreaCodePath, session: SessionDep, principal: CurrentPrincipal) -> Area:
    return await service.get_area_or_404(session, principal, code)


AreaInScope = Annotated[Area, Depends(area_in_scope)]

EXAMPLE = [{"code": "610928", "name": "旬阳市"}, {"code": "610928100", "name": "城关镇"}]


@router.post(
    "",
    status_code=201,
    response_model=AreaPublic | list[AreaPublic],
    summary="Create one area or a list of areas",
    responses=problems(403, 409),
)
async def create_areas(
    session: SessionDep,
    principal: CurrentPrincipal,
    body: Annotated[
        AreaCreate | list[AreaCreate],
        Body(openapi_examples={"one": {"value": EXAMPLE[0]}, "list": {"value": EXAMPLE}}),
    ],
):
    """Create areas inside the caller's area; a list is stored all or nothing."""
    items = body if isinstance(body, list) else [body]
    created = await service.create_areas(session, principal, data=items)
    out = [AreaPublic.model_validate(a) for a in created]
    return out if isinstance(body, list) else out[0]


@router.get("", response_model=Page[AreaPublic], summary="List areas")
async def list_areas(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    level: Annotated[str | None, Query(pattern="^(province|city|county|township|village)$")] = None,
    parent_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    area_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,12}$", description="Only this area and below")
    ] = None,
    updated_since: UpdatedSince = None,
):
    """List the areas the caller may see (its subtree and its ancestors)."""
    stmt = select(Area).where(service.visible_to(principal))
    if level:
        stmt = stmt.where(Area.level == level)
    if parent_code:
        stmt = stmt.where(Area.parent_code == parent_code)
    if area_code:
        stmt = stmt.where(within(Area.code, area_code))
    if updated_since:
        stmt = stmt.where(Area.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Area.code],
        limit=limit,
        cursor=cursor,
        key=lambda a: [a.code],
        to_item=AreaPublic.model_validate,
    )


@router.get("/{code}", response_model=AreaPublic, summary="Read an area", responses=problems(404))
async def read_area(area: AreaInScope) -> Area:
    return area


@router.patch(
    "/{code}", response_model=AreaPublic, summary="Rename an area", responses=problems(403, 404, 409)
)
async def update_area(
    area: AreaInScope,
    data: AreaUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> Area:
    return await service.rename_area(session, principal, area=area, data=data, if_match=if_match)


__all__ = ["Principal", "router"]
