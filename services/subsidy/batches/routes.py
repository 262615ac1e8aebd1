import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query, Request, Response
from sqlalchemy import select

from services.kit import listing
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep, SnapshotSessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.subsidy.batches import printing, render, service, workflow
from services.subsidy.batches.models import Batch
from services.subsidy.batches.schemas import (
    ApproveIn,
    BatchCreate,
    BatchPublic,
    BatchSummary,
    CancelIn,
    PayIn,
    RejectIn,
    SubmitIn,
    VersionIn,
)
from services.subsidy.domain import SEMESTER_PATTERN, BatchKind, BatchStatus

router = APIRouter(prefix="/api/v1/subsidy/batches", tags=["subsidy batches"])


async def batch_in_scope(batch_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Batch:
    return await service.get_batch_or_404(session, principal, batch_id)


async def locked_batch(batch_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Batch:
    """The batch, locked for the rest of the request (transitions are serialised)."""
    return await service.get_batch_or_404(session, principal, batch_id, lock=True)


async def locked_batch_snapshot(
    batch_id: uuid.UUID, session: SnapshotSessionDep, principal: CurrentPrincipal
) -> Batch:
    """The batch, locked, in a transaction that reads one snapshot taken after the barrier."""
    return await service.get_batch_or_404(session, principal, batch_id, lock=True)


BatchInScope = Annotated[Batch, Depends(batch_in_scope)]
LockedBatch = Annotated[Batch, Depends(locked_batch)]
LockedBatchSnapshot = Annotated[Batch, Depends(locked_batch_snapshot)]


@router.post(
    "",
    status_code=201,
    response_model=BatchPublic,
    summary="Generate a batch",
    responses=problems(403, 409, 422, 503),
)
async def create_batch(
    request: Request, data: BatchCreate, session: SnapshotSessionDep, principal: CurrentPrincipal
) -> Response:
    """Generate the lines from the students enrolled now; every other student is listed with the reason.

    Every registration acknowledged before this request is included: the service first waits (at most
    `NOL_BARRIER_TIMEOUT_SECONDS`, then 503 with Retry-After) until its copy of the registry has applied
    them, then reads that copy in one snapshot; `as_of` on the batch says which positions it reflects.
    """
    batch = await service.create_batch(session, principal, data=data, as_of=request.state.as_of)
    return await render.to_response(session, batch, status_code=201)


@router.get("", response_model=Page[BatchSummary], summary="List batches", responses=problems(403))
async def list_batches(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    semester: Annotated[str | None, Query(pattern=SEMESTER_PATTERN)] = None,
    policy_code: Annotated[str | None, Query(max_length=40)] = None,
    status: BatchStatus | None = None,
    kind: BatchKind | None = None,
    updated_since: UpdatedSince = None,
):
    """List the batches of the caller's schools (summaries; read one for its lines)."""
    service.require_reader(principal)
    stmt = select(Batch).where(service.visible_to(principal))
    for column, value in (
        (Batch.school_code, school_code),
        (Batch.semester, semester),
        (Batch.policy_code, policy_code),
        (Batch.status, status),
        (Batch.kind, kind),
    ):
        if value:
            stmt = stmt.where(column == value)
    if area_code:
        stmt = stmt.where(within(Batch.area_code, area_code))
    if updated_since:
        stmt = stmt.where(Batch.updated_at >= updated_since)
    page = await paginate(
        session,
        stmt,
        order_by=[Batch.updated_at, Batch.id],
        limit=limit,
        cursor=cursor,
        key=lambda b: [b.updated_at, b.id],
    )
    page["items"] = await render.summaries(session, page["items"])
    return page


@router.get("/{batch_id}", response_model=BatchPublic, summary="Read a batch", responses=problems(403, 404))
async def read_batch(batch: BatchInScope, session: SessionDep) -> Response:
    """A batch with its lines, its exclusions (with reasons) and its history (who, when)."""
    return await render.to_response(session, batch)


@router.get(
    "/{batch_id}/roster",
    response_model=printing.Roster,
    summary="A batch's 发放花名册 (roster to sign)",
    description="One row per live line (a line the bank returned is marked): name, ID number "
    "masked, school, stage, grade, aid categories, policy, amount, and a total equal to the batch's. "
    "`format=csv|xlsx` gives the sheet to print (amounts in 元, a total row, a signature column, "
    "经办人 and 负责人 lines below).",
    responses={200: {"content": listing.SPREADSHEETS}, **problems(403, 404)},
)
async def read_roster(batch: BatchInScope, session: SessionDep, format: printing.PrintFormat = None):
    """The 花名册 of a batch (JSON, CSV or XLSX)."""
    data = await printing.roster(session, batch)
    if format in ("csv", "xlsx"):
        content, headers = printing.roster_file(data, format)
        return Response(content, headers=headers, media_type=headers["content-type"])
    return data


@router.post(
    "/{batch_id}/regenerate",
    response_model=BatchPublic,
    summary="Regenerate a draft batch",
    responses=problems(403, 404, 409, 422, 503),
)
async def regenerate_batch(
    request: Request,
    batch: LockedBatchSnapshot,
    session: SnapshotSessionDep,
    principal: CurrentPrincipal,
    data: Annotated[VersionIn | None, Body()] = None,
) -> Response:
    """Generate a draft or rejected batch again from the students as they are now (back to draft).

    Like generation, it first waits for every acknowledged registry write, then reads one snapshot.
    """
    version = (data or VersionIn()).version
    await service.regenerate(session, principal, batch=batch, version=version, as_of=request.state.as_of)
    return await render.to_response(session, batch)


@router.post(
    "/{batch_id}/submit",
    response_model=BatchPublic,
    summary="Submit a batch (school)",
    responses=problems(403, 404, 409),
)
async def submit_batch(
    batch: LockedBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[SubmitIn | None, Body()] = None,
) -> Response:
    """Submit to the township (or, for schools directly under the county, the county); 公示 starts."""
    await workflow.submit(session, principal, batch=batch, data=data or SubmitIn())
    return await render.to_response(session, batch)


@router.post(
    "/{batch_id}/approve",
    response_model=BatchPublic,
    summary="Approve a batch",
    responses=problems(403, 404, 409),
)
async def approve_batch(
    batch: LockedBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[ApproveIn | None, Body()] = None,
) -> Response:
    """Approve at the caller's level: township first, then county (after 公示 and every objection)."""
    await workflow.approve(session, principal, batch=batch, data=data or ApproveIn())
    return await render.to_response(session, batch)


@router.post(
    "/{batch_id}/reject",
    response_model=BatchPublic,
    summary="Reject a batch",
    responses=problems(403, 404, 409),
)
async def reject_batch(
    batch: LockedBatch, data: RejectIn, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Send the batch back to the school with a reason; it may resubmit or regenerate."""
    await workflow.reject(session, principal, batch=batch, data=data)
    return await render.to_response(session, batch)


@router.post(
    "/{batch_id}/pay",
    response_model=BatchPublic,
    summary="Record the payment of a batch",
    responses=problems(403, 404, 409),
)
async def pay_batch(
    batch: LockedBatch, data: PayIn, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Mark an approved batch paid (`paid_on`, `reference`); every line is paid."""
    await workflow.pay(session, principal, batch=batch, data=data)
    return await render.to_response(session, batch)


@router.post(
    "/{batch_id}/cancel",
    response_model=BatchPublic,
    summary="Cancel a batch",
    responses=problems(403, 404, 409),
)
async def cancel_batch(
    batch: LockedBatch, data: CancelIn, session: SessionDep, principal: CurrentPrincipal
) -> Response:
    """Cancel a draft or rejected batch; its students become free for another batch."""
    await service.cancel(session, principal, batch=batch, reason=data.reason, version=data.version)
    return await render.to_response(session, batch)
