import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.contracts.vocabulary import LoanKind, RepaymentStatus
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch
from services.subsidy.loans import service
from services.subsidy.loans.models import Loan
from services.subsidy.loans.schemas import EXAMPLE, LoanCreate, LoanPublic, LoanUpdate

router = APIRouter(prefix="/api/v1/subsidy/loans", tags=["subsidy loans"])
DESCRIPTION = (
    "A student loan for higher education: 国家助学贷款 (`national`, at the university) or 生源地信用助学贷款 "
    "(`origin_credit`, from the home county) — year, amount in fen, lender, contract number (unique per "
    "lender: a second record of the same contract is 409) and repayment status. County and school users "
    "record; figures count them from `edu.subsidy.loan.*` events."
)


async def loan_in_scope(loan_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Loan:
    return await service.get_or_404(session, principal, loan_id)


LoanInScope = Annotated[Loan, Depends(loan_in_scope)]


@router.post(
    "",
    status_code=201,
    response_model=LoanPublic,
    summary="Record a student loan",
    description=DESCRIPTION,
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
    responses=problems(403, 404, 409, 503),
)
async def record_loan(
    data: LoanCreate, session: SessionDep, principal: CurrentPrincipal, _fresh: FreshProjection
) -> dict:
    return service.to_public(await service.record(session, principal, data=data))


@router.get("", response_model=Page[LoanPublic], summary="List student loans")
async def list_loans(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    loan_kind: LoanKind | None = None,
    repayment_status: RepaymentStatus | None = None,
    updated_since: UpdatedSince = None,
):
    """Loans of the students in the caller's scope."""
    stmt = select(Loan).where(service.visible_to(principal))
    for column, value in (
        (Loan.student_id, student_id),
        (Loan.year, year),
        (Loan.loan_kind, loan_kind),
        (Loan.repayment_status, repayment_status),
    ):
        if value:
            stmt = stmt.where(column == value)
    if updated_since:
        stmt = stmt.where(Loan.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Loan.updated_at, Loan.id],
        limit=limit,
        cursor=cursor,
        key=lambda x: [x.updated_at, x.id],
        to_item=lambda x: LoanPublic.model_validate(service.to_public(x)),
    )


@router.get("/{loan_id}", response_model=LoanPublic, summary="Read a loan", responses=problems(404))
async def read_loan(loan: LoanInScope) -> dict:
    return service.to_public(loan)


@router.patch(
    "/{loan_id}",
    response_model=LoanPublic,
    summary="Change a loan's repayment status",
    openapi_extra={
        "requestBody": {
            "content": {"application/json": {"example": {"version": 1, "repayment_status": "repaying"}}}
        }
    },
    responses=problems(403, 404, 409),
)
async def update_loan(
    loan: LoanInScope,
    data: LoanUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> dict:
    return service.to_public(
        await service.update(session, principal, loan=loan, data=data, if_match=if_match)
    )
