import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from sqlalchemy import select

from services.contracts.vocabulary import LineKind
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.rls import within
from services.subsidy.batches.models import Disbursement
from services.subsidy.batches.schemas import DisbursementPublic
from services.subsidy.batches.service import lines_visible_to
from services.subsidy.domain import SEMESTER_PATTERN, PolicyKind

router = APIRouter(prefix="/api/v1/subsidy/disbursements", tags=["subsidy disbursements"])
LineStatus = Literal["proposed", "draft", "submitted", "approved", "paid", "rejected", "cancelled", "failed"]


@router.get("", response_model=Page[DisbursementPublic], summary="List disbursements (one row per line)")
async def list_disbursements(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    household_id: uuid.UUID | None = None,
    batch_id: uuid.UUID | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    semester: Annotated[str | None, Query(pattern=SEMESTER_PATTERN)] = None,
    policy_code: Annotated[str | None, Query(max_length=40)] = None,
    policy_kind: PolicyKind | None = None,
    status: LineStatus | None = None,
    kind: LineKind | None = None,
    updated_since: UpdatedSince = None,
):
    """Every line in the caller's scope; `proposed` rows are back-payments (补发) not yet in a batch."""
    stmt = select(Disbursement).where(lines_visible_to(principal))
    for column, value in (
        (Disbursement.student_id, student_id),
        (Disbursement.household_id, household_id),
        (Disbursement.batch_id, batch_id),
        (Disbursement.school_code, school_code),
        (Disbursement.semester, semester),
        (Disbursement.policy_code, policy_code),
        (Disbursement.policy_kind, policy_kind),
        (Disbursement.status, status),
        (Disbursement.kind, kind),
    ):
        if value:
            stmt = stmt.where(column == value)
    if area_code:
        stmt = stmt.where(within(Disbursement.area_code, area_code))
    if updated_since:
        stmt = stmt.where(Disbursement.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Disbursement.updated_at, Disbursement.id],
        limit=limit,
        cursor=cursor,
        key=lambda d: [d.updated_at, d.id],
        to_item=DisbursementPublic.model_validate,
    )
