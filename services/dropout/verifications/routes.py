import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Query
from pydantic import Field
from sqlalchemy import select

from services.dropout.verifications import service
from services.dropout.verifications.models import Verification
from services.dropout.verifications.schemas import (
    SEMESTER,
    ResultIn,
    VerificationCreate,
    VerificationListItem,
    VerificationPublic,
)
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/dropout/verifications", tags=["start-of-semester check"])
Results = Annotated[list[ResultIn], Field(min_length=1, max_length=5000)]
RESULTS_EXAMPLE = [
    {"student_id": "0b8e3c52-5d7e-4c1e-9a51-3f0f6f1d2a10", "arrived": True},
    {"student_id": "5f1d9a3e-2b4c-4d8e-8f6a-1c2b3d4e5f60", "arrived": False, "reason": "illness"},
    {"student_id": "9c7b5a3e-1d2f-4e6a-8b0c-2d4f6a8c0e11", "arrived": False, "reason": "unexplained"},
]


async def _public(session, v: Verification) -> VerificationPublic:
    items = await service.items_of(session, v)
    return VerificationPublic.model_validate(
        v.model_dump() | {"summary": service.summary(items), "items": [i.model_dump() for i in items]}
    )


@router.post(
    "",
    status_code=201,
    response_model=VerificationPublic,
    summary="Start a start-of-semester check",
    responses=problems(403, 409),
)
async def create_verification(
    data: VerificationCreate, session: SessionDep, principal: CurrentPrincipal
) -> VerificationPublic:
    """List the school's enrolled compulsory-age students to confirm (school for itself; county, admin);
    one check per school and semester (a second gets 409)."""
    return await _public(session, await service.create(session, principal, data=data))


@router.get("", response_model=Page[VerificationListItem], summary="List start-of-semester checks")
async def list_verifications(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    semester: Annotated[str | None, Query(pattern=SEMESTER)] = None,
    status: Annotated[str | None, Query(pattern="^(open|completed)$")] = None,
    updated_since: UpdatedSince = None,
):
    stmt = select(Verification).where(service.visible_to_v(principal))
    for col, value in (
        (Verification.school_code, school_code),
        (Verification.semester, semester),
        (Verification.status, status),
    ):
        if value:
            stmt = stmt.where(col == value)
    if updated_since:
        stmt = stmt.where(Verification.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Verification.updated_at, Verification.id],
        limit=limit,
        cursor=cursor,
        key=lambda v: [v.updated_at, v.id],
        to_item=VerificationListItem.model_validate,
    )


@router.get(
    "/{verification_id}",
    response_model=VerificationPublic,
    summary="Read a check with its list",
    responses=problems(404),
)
async def read_verification(
    verification_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> VerificationPublic:
    return await _public(session, await service.verification_or_404(session, principal, verification_id))


@router.post(
    "/{verification_id}/results",
    response_model=VerificationPublic,
    summary="Record arrivals",
    responses=problems(403, 404),
)
async def record_results(
    verification_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    results: Annotated[Results, Body(examples=[RESULTS_EXAMPLE])],
) -> VerificationPublic:
    """Record who arrived and, for each one who did not, why; `unexplained` opens a case. Re-posting a
    result is a no-op; a changed one replaces it. The check is `completed` once every student has one."""
    v = await service.verification_or_404(session, principal, verification_id)
    return await _public(
        session, await service.record_results(session, principal, verification=v, results=results)
    )
