import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.contracts.vocabulary import LetterStatus, PolicyKind
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch
from services.subsidy.domain import SEMESTER_PATTERN
from services.subsidy.elsewhere import service
from services.subsidy.elsewhere.models import AidElsewhere
from services.subsidy.elsewhere.schemas import (
    EXAMPLE,
    AidElsewhereCreate,
    AidElsewherePublic,
    AidElsewhereUpdate,
)

router = APIRouter(prefix="/api/v1/subsidy/aid-elsewhere", tags=["subsidy aid elsewhere"])
DESCRIPTION = (
    "Aid paid for one of our children by another county or province (区域外/省外资助): who paid, what, "
    "for which semester, how much, the evidence, and the follow-up letter (公函: `sent`, `answered`, "
    "`overdue` once `due_on` has passed unanswered). The record counts as covered, and keeps the child "
    "out of any batch here of the same policy kind and semester (exclusion reason `paid_elsewhere`, "
    "已在区域外享受同类资助). County and school users record; every staff role reads in its scope."
)


async def aid_in_scope(aid_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> AidElsewhere:
    return await service.get_or_404(session, principal, aid_id)


AidInScope = Annotated[AidElsewhere, Depends(aid_in_scope)]


@router.post(
    "",
    status_code=201,
    response_model=AidElsewherePublic,
    summary="Record aid received elsewhere",
    description=DESCRIPTION,
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
    responses=problems(403, 404, 503),
)
async def record_aid(
    data: AidElsewhereCreate, session: SessionDep, principal: CurrentPrincipal, _fresh: FreshProjection
) -> dict:
    return service.to_public(await service.record(session, principal, data=data))


@router.get("", response_model=Page[AidElsewherePublic], summary="List aid received elsewhere")
async def list_aid(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    semester: Annotated[str | None, Query(pattern=SEMESTER_PATTERN)] = None,
    policy_kind: PolicyKind | None = None,
    letter_status: LetterStatus | None = None,
    updated_since: UpdatedSince = None,
):
    """Records of the children in the caller's scope, newest change last."""
    stmt = select(AidElsewhere).where(service.visible_to(principal))
    for column, value in (
        (AidElsewhere.student_id, student_id),
        (AidElsewhere.semester, semester),
        (AidElsewhere.policy_kind, policy_kind),
    ):
        if value:
            stmt = stmt.where(column == value)
    if updated_since:
        stmt = stmt.where(AidElsewhere.updated_at >= updated_since)
    if letter_status:
        stmt = stmt.where(*service.letter_is(letter_status))
    return await paginate(
        session,
        stmt,
        order_by=[AidElsewhere.updated_at, AidElsewhere.id],
        limit=limit,
        cursor=cursor,
        key=lambda a: [a.updated_at, a.id],
        to_item=lambda a: AidElsewherePublic.model_validate(service.to_public(a)),
    )


@router.get("/{aid_id}", response_model=AidElsewherePublic, summary="Read a record", responses=problems(404))
async def read_aid(aid: AidInScope) -> dict:
    return service.to_public(aid)


@router.patch(
    "/{aid_id}",
    response_model=AidElsewherePublic,
    summary="Record the follow-up letter's progress",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "example": {
                        "version": 1,
                        "letter": {"sent_on": "2026-10-08", "answered_on": "2026-10-20"},
                    }
                }
            }
        }
    },
    responses=problems(403, 404, 409),
)
async def update_aid(
    aid: AidInScope,
    data: AidElsewhereUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> dict:
    """Replace the letter's dates (sent, due, answered) or the evidence; `version` or If-Match."""
    updated = await service.update(session, principal, aid=aid, data=data, if_match=if_match)
    return service.to_public(updated)
