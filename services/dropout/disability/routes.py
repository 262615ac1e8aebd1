import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from services.dropout.disability import service
from services.dropout.disability.models import HomeTeachingSession, Placement
from services.dropout.disability.schemas import (
    PlacementCreate,
    PlacementPublic,
    PlacementUpdate,
    SessionCreate,
    SessionPublic,
)
from services.dropout.domain import Placement as Kind
from services.dropout.students.models import Student
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch

router = APIRouter(prefix="/api/v1/disability", tags=["disabled children"])


def _public(pair) -> PlacementPublic:
    p, s = pair
    return PlacementPublic.model_validate(
        p.model_dump() | {"student_name": s.name, "school_code": s.school_code}
    )


@router.post(
    "/placements",
    status_code=201,
    response_model=PlacementPublic,
    summary="Record a placement",
    responses=problems(403, 409),
)
async def create_placement(
    data: PlacementCreate, session: SessionDep, principal: CurrentPrincipal
) -> PlacementPublic:
    """One placement per disabled child and year; deferred and exempt need a reason."""
    return _public(await service.create_placement(session, principal, data=data))


@router.get("/placements", response_model=Page[PlacementPublic], summary="List placements")
async def list_placements(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    placement: Kind | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    updated_since: UpdatedSince = None,
):
    stmt = service.placements_in_scope(principal)
    for col, value in (
        (Placement.student_id, student_id),
        (Placement.year, year),
        (Placement.placement, placement),
        (Student.school_code, school_code),
    ):
        if value is not None:
            stmt = stmt.where(col == value)
    if updated_since:
        stmt = stmt.where(Placement.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Placement.updated_at, Placement.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: [r[0].updated_at, r[0].id],
        to_item=_public,
    )


@router.get(
    "/placements/{placement_id}",
    response_model=PlacementPublic,
    summary="Read a placement",
    responses=problems(404),
)
async def read_placement(
    placement_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> PlacementPublic:
    return _public(await service.placement_or_404(session, principal, placement_id))


@router.patch(
    "/placements/{placement_id}",
    response_model=PlacementPublic,
    summary="Change a placement",
    responses=problems(403, 404, 409),
)
async def update_placement(
    placement_id: uuid.UUID,
    data: PlacementUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> PlacementPublic:
    pair = await service.update_placement(session, principal, pid=placement_id, data=data, if_match=if_match)
    return _public(pair)


@router.post(
    "/home-teaching-sessions",
    status_code=201,
    response_model=SessionPublic,
    summary="Log a home-teaching session",
    responses=problems(403),
)
async def create_session(
    data: SessionCreate, session: SessionDep, principal: CurrentPrincipal
) -> HomeTeachingSession:
    """Date, teacher, duration and content of a visit to a child placed in home teaching that year."""
    return await service.record_session(session, principal, data=data)


@router.get(
    "/home-teaching-sessions", response_model=Page[SessionPublic], summary="List home-teaching sessions"
)
async def list_sessions(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    updated_since: UpdatedSince = None,
):
    stmt = service.sessions_in_scope(principal)
    if student_id:
        stmt = stmt.where(HomeTeachingSession.student_id == student_id)
    if date_from:
        stmt = stmt.where(HomeTeachingSession.date >= date_from)
    if date_to:
        stmt = stmt.where(HomeTeachingSession.date <= date_to)
    if updated_since:
        stmt = stmt.where(HomeTeachingSession.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[HomeTeachingSession.updated_at, HomeTeachingSession.id],
        limit=limit,
        cursor=cursor,
        key=lambda s: [s.updated_at, s.id],
        to_item=SessionPublic.model_validate,
    )
