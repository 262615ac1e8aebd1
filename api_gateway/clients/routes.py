"""`/api/v1/clients`: machine clients (the poverty platform), admin only."""

from typing import Annotated

from fastapi import APIRouter, Depends, Path, Response
from sqlalchemy import select

from api_gateway.clients import service
from api_gateway.clients.models import ApiClient
from api_gateway.clients.schemas import ClientCreate, ClientCreated, ClientPublic
from services.kit.auth import Principal, Role, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/clients", tags=["clients"], responses=problems(403))  # admins only
Admin = Annotated[Principal, Depends(require(Role.admin))]
ClientId = Annotated[str, Path(max_length=64, description="The client's `client_id`")]


@router.post("", status_code=201, response_model=ClientCreated, summary="Create a platform client")
async def create_client(data: ClientCreate, session: SessionDep, principal: Admin,
                        response: Response) -> ClientCreated:
    """Create a client for `grant_type=client_credentials`; the secret is returned only here.

    A retry with the same `Idempotency-Key` gets 409 `idempotent_secret_not_kept`: the secret is
    not kept anywhere, not even for replays."""
    client, secret = await service.create_client(session, principal, data=data)
    response.headers["Cache-Control"] = "no-store"  # a secret: no cache
    response.headers["X-Secret-Shown-Once"] = "true"  # ...and no idempotent replay (api_gateway.idempotency)
    return ClientCreated(**ClientPublic.model_validate(client).model_dump(), client_secret=secret)


@router.get("", response_model=Page[ClientPublic], summary="List platform clients")
async def list_clients(session: SessionDep, principal: Admin, limit: Limit = 50,
                       cursor: Cursor = None, disabled: bool | None = None):
    """List the clients inside the admin's area."""
    stmt = select(ApiClient).where(service.visible_to(principal))
    if disabled is not None:
        stmt = stmt.where(ApiClient.disabled == disabled)
    return await paginate(
        session, stmt, order_by=[ApiClient.created_at, ApiClient.id], limit=limit, cursor=cursor,
        key=lambda c: [c.created_at, c.id], to_item=ClientPublic.model_validate)


@router.post("/{client_id}/disable", response_model=ClientPublic, summary="Disable a client",
             responses=problems(404))
async def disable_client(client_id: ClientId, session: SessionDep, principal: Admin) -> ApiClient:
    """Disable a client: it can no longer get tokens."""
    client = await service.get_client_or_404(session, principal, client_id)
    return await service.set_disabled(session, client=client, disabled=True)


@router.post("/{client_id}/enable", response_model=ClientPublic, summary="Enable a client",
             responses=problems(404))
async def enable_client(client_id: ClientId, session: SessionDep, principal: Admin) -> ApiClient:
    """Enable a disabled client."""
    client = await service.get_client_or_404(session, principal, client_id)
    return await service.set_disabled(session, client=client, disabled=False)
