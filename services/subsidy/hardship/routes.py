import uuid
from typing import Annotated

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.contracts.vocabulary import HardshipLevel
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch
from services.subsidy.hardship import service
from services.subsidy.hardship.models import Hardship
from services.subsidy.hardship.schemas import (
    EXAMPLE,
    HardshipCreate,
    HardshipDecide,
    HardshipPublic,
    HardshipReject,
    HardshipSubmit,
)

router = APIRouter(prefix="/api/v1/subsidy/hardship", tags=["subsidy hardship"])
DESCRIPTION = (
    "家庭经济困难学生认定: per school year (by its autumn year), a school user proposes a child with a "
    "level (`general` 一般困难, `hard` 困难, `especially_hard` 特别困难) and the reason, then submits it: "
    "the public notice (公示, `NOL_PUBLICITY_DAYS`) starts. The township approves, then the county (not "
    "before the notice has run); either may reject with a reason (the school may resubmit); the county "
    "may revoke an approved level. Only a county-approved level counts: batches of that school year's "
    "semesters read it (a policy's or rule's `min_hardship_level`). Events `edu.subsidy.hardship.*`."
)


@router.post(
    "",
    status_code=201,
    response_model=HardshipPublic,
    summary="Propose a child's hardship level",
    description=DESCRIPTION,
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
    responses=problems(403, 404, 409, 503),
)
async def propose(
    data: HardshipCreate, session: SessionDep, principal: CurrentPrincipal, _fresh: FreshProjection
) -> dict:
    return service.to_public(await service.propose(session, principal, data=data))


@router.get("", response_model=Page[HardshipPublic], summary="List hardship identifications")
async def list_hardship(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    school_year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    status: Annotated[str | None, Query(pattern="^(proposed|submitted|approved|rejected|revoked)$")] = None,
    level: HardshipLevel | None = None,
    school_code: Annotated[str | None, Query(max_length=10)] = None,
    student_id: uuid.UUID | None = None,
    awaiting: Annotated[str | None, Query(pattern="^(township|county)$")] = None,
    updated_since: UpdatedSince = None,
):
    """The identifications of the children in the caller's scope, newest change last."""
    stmt = select(Hardship).where(service.visible_to(principal))
    for column, value in (
        (Hardship.school_year, school_year),
        (Hardship.status, status),
        (Hardship.level, level.value if level else None),
        (Hardship.school_code, school_code),
        (Hardship.student_id, student_id),
        (Hardship.awaiting, awaiting),
    ):
        if value is not None:
            stmt = stmt.where(column == value)
    if updated_since:
        stmt = stmt.where(Hardship.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Hardship.updated_at, Hardship.id],
        limit=limit,
        cursor=cursor,
        key=lambda h: [h.updated_at, h.id],
        to_item=lambda h: HardshipPublic.model_validate(service.to_public(h)),
    )


@router.get(
    "/{hardship_id}", response_model=HardshipPublic, summary="Read a hardship identification",
    responses=problems(404),
)  # fmt: skip
async def read_hardship(hardship_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> dict:
    return service.to_public(await service.get_or_404(session, principal, hardship_id))


def _example(body: dict) -> dict:
    return {"requestBody": {"content": {"application/json": {"example": body}}}}


@router.post(
    "/{hardship_id}/submit",
    response_model=HardshipPublic,
    summary="Submit a proposal (public notice starts)",
    openapi_extra=_example({"publicity_start": "2026-09-20", "version": 1}),
    responses=problems(403, 404, 409),
)
async def submit(
    hardship_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: HardshipSubmit | None = None,
    if_match: IfMatch = None,
) -> dict:
    """Submit (or resubmit after a rejection, optionally with a new `level` / `reason`)."""
    data = data or HardshipSubmit()
    return service.to_public(
        await service.submit(session, principal, hardship_id=hardship_id, data=data, if_match=if_match)
    )


@router.post(
    "/{hardship_id}/approve",
    response_model=HardshipPublic,
    summary="Approve at the caller's level (township, then county)",
    openapi_extra=_example({"note": "经村、乡两级核实", "version": 2}),
    responses=problems(403, 404, 409),
)
async def approve(
    hardship_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: HardshipDecide | None = None,
    if_match: IfMatch = None,
) -> dict:
    """The county's approval (after the public notice) makes the level count for batches."""
    data = data or HardshipDecide()
    return service.to_public(
        await service.approve(session, principal, hardship_id=hardship_id, data=data, if_match=if_match)
    )


@router.post(
    "/{hardship_id}/reject",
    response_model=HardshipPublic,
    summary="Send a submitted identification back with a reason",
    openapi_extra=_example({"reason": "家庭收入核实不符", "version": 3}),
    responses=problems(403, 404, 409),
)
async def reject(
    hardship_id: uuid.UUID, data: HardshipReject, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> dict:  # fmt: skip
    return service.to_public(
        await service.reject(session, principal, hardship_id=hardship_id, data=data, if_match=if_match)
    )


@router.post(
    "/{hardship_id}/revoke",
    response_model=HardshipPublic,
    summary="Revoke an approved level (county)",
    openapi_extra=_example({"reason": "家庭经济状况好转", "version": 4}),
    responses=problems(403, 404, 409),
)
async def revoke(
    hardship_id: uuid.UUID, data: HardshipReject, session: SessionDep, principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> dict:  # fmt: skip
    """It no longer counts for batches generated from now on (paid lines stay paid)."""
    return service.to_public(
        await service.revoke(session, principal, hardship_id=hardship_id, data=data, if_match=if_match)
    )
