"""Platform clients: created by admins, authenticated with client credentials."""

import secrets
import uuid

import anyio.to_thread
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.auth.revocations import revoke_sessions
from api_gateway.clients.models import ApiClient
from api_gateway.clients.schemas import ClientCreate
from api_gateway.db import now
from api_gateway.tokens import hash_secret
from services.kit.auth import Principal
from services.kit.errors import Forbidden, NotFound
from services.kit.natsauth import hash_password


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """Return the SQL condition for clients inside the caller's area."""
    return ApiClient.area_code.startswith(principal.area_code, autoescape=True)


async def create_client(session: AsyncSession, principal: Principal, *, data: ClientCreate,
                        ) -> tuple[ApiClient, str]:
    """Create a client; return it and its secret (the only time the secret is known)."""
    if not principal.covers_area(data.area_code):
        raise Forbidden("The client's area is outside yours")
    secret = secrets.token_urlsafe(32)
    client = ApiClient(client_id=f"plt_{secrets.token_urlsafe(12)}", secret_hash=hash_secret(secret),
                       name=data.name, area_code=data.area_code,
                       nats_password_hash=await anyio.to_thread.run_sync(hash_password, secret))
    session.add(client)
    await session.flush()
    return client, secret


async def get_client_or_404(session: AsyncSession, principal: Principal, client_id: str,
                            ) -> ApiClient:
    """Return a client inside the caller's area, or 404."""
    stmt = select(ApiClient).where(ApiClient.client_id == client_id, visible_to(principal))
    stmt = stmt.with_for_update()
    client = (await session.exec(stmt)).one_or_none()
    if client is None:
        raise NotFound("No such client")
    return client


async def set_disabled(session: AsyncSession, *, client: ApiClient, disabled: bool) -> ApiClient:
    """Disable (its access tokens stop passing at once, through the revocation list) or enable a client."""
    if client.disabled != disabled:
        if disabled:
            await revoke_sessions(session, [client.token_session], reason="client_disabled")
            client.token_session = uuid.uuid4()
        client.disabled = disabled
        client.version += 1
        client.updated_at = now()
        session.add(client)
        await session.flush()
    return client
