import uuid
from typing import Annotated

from fastapi import APIRouter, Body, Depends, Query
from sqlalchemy import select

from services.kit.auth import Principal, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.registry.transfers import service
from services.registry.transfers.models import TransferRequest
from services.registry.transfers.schemas import TransferDecision, TransferPublic

router = APIRouter(prefix="/api/v1/transfers", tags=["transfers"])
Reader = Annotated[Principal, Depends(require(*service.READERS))]
Decider = Annotated[Principal, Depends(require(*service.DECIDERS))]
STATUS = r"^(pending|accepted|rejected|cancelled)$"


async def transfer_in_scope(
    transfer_id: uuid.UUID, session: SessionDep, principal: Reader
) -> TransferRequest:
    return await service.get_or_404(session, principal, transfer_id)


async def transfer_to_decide(
    transfer_id: uuid.UUID, session: SessionDep, principal: Decider
) -> TransferRequest:
    return await service.get_or_404(session, principal, transfer_id, lock=True)


TransferInScope = Annotated[TransferRequest, Depends(transfer_in_scope)]
TransferToDecide = Annotated[TransferRequest, Depends(transfer_to_decide)]
Decision = Annotated[TransferDecision | None, Body()]


@router.get("", response_model=Page[TransferPublic], summary="List transfer requests",
            responses=problems(403))
async def list_transfers(
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    direction: Annotated[service.Direction | None, Query(
        description="`incoming`: into the caller's area or school; `outgoing`: out of it; both if absent",
    )] = None,
    status: Annotated[str | None, Query(pattern=STATUS)] = None,
):
    """Transfers into or out of the caller's area (or school), oldest first."""
    stmt = select(TransferRequest).where(service.visible_to(principal, direction))
    if status:
        stmt = stmt.where(TransferRequest.status == status)
    page = await paginate(session, stmt, order_by=[TransferRequest.created_at, TransferRequest.id],
                          limit=limit, cursor=cursor, key=lambda t: [t.created_at, t.id])
    return {**page, "items": await service.to_public(session, page["items"])}


@router.get("/{transfer_id}", response_model=TransferPublic, summary="Read a transfer request",
            responses=problems(403, 404))
async def read_transfer(transfer: TransferInScope, session: SessionDep) -> TransferPublic:
    return (await service.to_public(session, [transfer]))[0]


@router.post("/{transfer_id}/accept", response_model=TransferPublic, summary="Accept a transfer",
             responses=problems(403, 404, 409))
async def accept_transfer(
    transfer: TransferToDecide, session: SessionDep, principal: Decider, data: Decision = None
) -> TransferPublic:
    """The receiving county (or school) takes the student: its enrollment moves now."""
    done = await service.accept(session, principal, transfer=transfer, note=data.note if data else None)
    return (await service.to_public(session, [done]))[0]


@router.post("/{transfer_id}/reject", response_model=TransferPublic, summary="Reject a transfer",
             responses=problems(403, 404, 409))
async def reject_transfer(
    transfer: TransferToDecide, session: SessionDep, principal: Decider, data: Decision = None
) -> TransferPublic:
    """The receiving county (or school) refuses: the student stays at the sending school."""
    done = await service.reject(session, principal, transfer=transfer, note=data.note if data else None)
    return (await service.to_public(session, [done]))[0]


@router.post("/{transfer_id}/cancel", response_model=TransferPublic, summary="Withdraw a transfer request",
             responses=problems(403, 404, 409))
async def cancel_transfer(
    transfer: TransferToDecide, session: SessionDep, principal: Decider, data: Decision = None
) -> TransferPublic:
    """The sending county (or school) withdraws a request not yet decided."""
    done = await service.cancel(session, principal, transfer=transfer, note=data.note if data else None)
    return (await service.to_public(session, [done]))[0]
