import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch
from services.subsidy.payees import service
from services.subsidy.payees.models import Payee
from services.subsidy.payees.schemas import EXAMPLE, PayeeCreate, PayeePublic, PayeeUpdate

router = APIRouter(prefix="/api/v1/subsidy/payees", tags=["subsidy payees"])
DESCRIPTION = (
    "Who a child's aid is paid to (收款人): the guardian's name and relation, the account kind — `bank_card` "
    "(银行卡: 16-19 digits, Luhn check digit) or `one_card` (社保卡 / 惠民惠农“一卡通”: 10-25 digits, "
    "no common check digit) — the account number and the bank. One payee per student (a second is 409: "
    "correct it with PATCH). The number is stored encrypted with a keyed hash (matching bank files) "
    "and shown masked (first 6, last 4). County, school and admin users write; every staff role in "
    "scope reads. Events `edu.subsidy.payee.recorded` / `.corrected` (masked)."
)


async def payee_in_scope(payee_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Payee:
    return await service.get_or_404(session, principal, payee_id)


PayeeInScope = Annotated[Payee, Depends(payee_in_scope)]


@router.post(
    "",
    status_code=201,
    response_model=PayeePublic,
    summary="Record a student's payee",
    description=DESCRIPTION,
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
    responses=problems(403, 404, 409, 422, 503),
)
async def record_payee(
    data: PayeeCreate, session: SessionDep, principal: CurrentPrincipal, _fresh: FreshProjection
) -> PayeePublic:
    return service.to_public(await service.record(session, principal, data=data))


@router.get("", response_model=Page[PayeePublic], summary="List payees (accounts masked)")
async def list_payees(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    updated_since: UpdatedSince = None,
):
    """The payees of the caller's students, accounts masked (first 6, last 4)."""
    stmt = select(Payee).where(service.visible_to(principal))
    if student_id:
        stmt = stmt.where(Payee.student_id == student_id)
    if school_code:
        stmt = stmt.where(Payee.school_code == school_code)
    if updated_since:
        stmt = stmt.where(Payee.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Payee.updated_at, Payee.id],
        limit=limit,
        cursor=cursor,
        key=lambda p: [p.updated_at, p.id],
        to_item=service.to_public,
    )


@router.get("/{payee_id}", response_model=PayeePublic, summary="Read a payee", responses=problems(403, 404))
async def read_payee(
    payee: PayeeInScope,
    principal: CurrentPrincipal,
    reveal: Annotated[
        Literal["account"] | None,
        Query(description="`account` shows the whole account number (county and school users; audited)"),
    ] = None,
) -> PayeePublic:
    """A payee, the account masked; `?reveal=account` shows it whole (audited, through the gateway only)."""
    return service.to_public(payee, principal=principal, reveal=bool(reveal))


@router.patch(
    "/{payee_id}",
    response_model=PayeePublic,
    summary="Correct a payee",
    responses=problems(403, 404, 409, 422),
)
async def correct_payee(
    payee: PayeeInScope,
    data: PayeeUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> PayeePublic:
    """Correct the guardian, account or bank (e.g. after the bank returned a line); `version` required.

    Lines already generated keep the payee they were made with; a failed line is paid again to the
    corrected payee by a re-payment batch (`POST /batches {"kind": "repay"}`).
    """
    payee = await service.correct(session, principal, payee=payee, data=data, if_match=if_match)
    return service.to_public(payee)
