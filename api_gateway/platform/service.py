"""Webhooks of platform clients, their delivery log, and client secret rotation."""

import secrets
import uuid
from datetime import timedelta

import anyio.to_thread
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.clients.models import ApiClient
from api_gateway.db import now
from api_gateway.platform.feed import SECRET_CONTEXT
from api_gateway.platform.models import Webhook, WebhookDelivery
from api_gateway.platform.schemas import WebhookCreate
from api_gateway.tokens import hash_secret
from services.kit import natsauth
from services.kit.auth import Principal, Role
from services.kit.crypto import id_cipher
from services.kit.errors import Forbidden, NotFound
from services.kit.settings import Settings


def visible_clients(principal: Principal) -> ColumnElement[bool]:
    """Clients an admin may manage (inside its area), or a platform client itself."""
    if principal.role is Role.platform:
        return ApiClient.client_id == principal.sub
    return ApiClient.area_code.startswith(principal.area_code, autoescape=True)


async def client_or_404(session: AsyncSession, principal: Principal, client_id: str) -> ApiClient:
    stmt = select(ApiClient).where(ApiClient.client_id == client_id, visible_clients(principal))
    client = (await session.exec(stmt.with_for_update())).one_or_none()
    if client is None:
        raise NotFound("No such client")
    return client


async def create_webhook(
    session: AsyncSession, settings: Settings, principal: Principal, *, client: ApiClient, data: WebhookCreate
) -> tuple[Webhook, str]:
    """Add a webhook to a client; return it and its signing secret (the only time it is shown)."""
    area = data.area_code or client.area_code
    if not area.startswith(client.area_code):
        raise Forbidden("The webhook's area is outside the client's")
    secret = "whsec_" + secrets.token_urlsafe(32)
    hook = Webhook(
        client_id=client.client_id,
        url=data.url,
        events=data.events,
        area_code=area,
        secret_enc=id_cipher(settings).encrypt(secret, SECRET_CONTEXT),
        created_by=principal.username,
    )
    session.add(hook)
    await session.flush()
    await session.refresh(hook)
    return hook, secret


async def webhook_or_404(session: AsyncSession, client: ApiClient, webhook_id: uuid.UUID) -> Webhook:
    stmt = select(Webhook).where(Webhook.id == webhook_id, Webhook.client_id == client.client_id)
    hook = (await session.exec(stmt)).one_or_none()
    if hook is None:
        raise NotFound("No such webhook")
    return hook


async def disable_webhook(session: AsyncSession, *, hook: Webhook) -> Webhook:
    """Stop a webhook: nothing more is queued for it; pending deliveries end as failed."""
    if not hook.disabled:
        hook.disabled, hook.version, hook.updated_at = True, hook.version + 1, now()
        session.add(hook)
        await session.flush()
    return hook


def deliveries_of(hook: Webhook):
    return select(WebhookDelivery).where(WebhookDelivery.webhook_id == hook.id)


async def nats_hash(secret: str) -> str:
    return await anyio.to_thread.run_sync(natsauth.hash_password, secret)


async def rotate_secret(
    session: AsyncSession, settings: Settings, *, client: ApiClient
) -> tuple[str, ApiClient]:
    """Issue a new secret; the current one keeps working for the grace period, an older one stops now."""
    secret = secrets.token_urlsafe(32)
    client.previous_secret_hash = client.secret_hash
    client.previous_secret_until = now() + timedelta(seconds=settings.client_secret_grace_seconds)
    client.secret_hash = hash_secret(secret)
    client.nats_password_hash = await nats_hash(secret)
    client.version += 1
    client.updated_at = now()
    session.add(client)
    await session.flush()
    return secret, client
