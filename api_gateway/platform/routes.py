"""`/api/v1/clients/{client_id}/secret` and `/webhooks`: the platform's credentials and push delivery."""

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from sqlmodel import select

from api_gateway.platform import service
from api_gateway.platform.models import Webhook, WebhookDelivery
from api_gateway.platform.schemas import (
    DeliveryPublic,
    SecretRotated,
    WebhookCreate,
    WebhookCreated,
    WebhookPublic,
)
from services.kit.auth import Principal, Role, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/clients", tags=["clients"], responses=problems(403, 404))
Admin = Annotated[Principal, Depends(require(Role.admin))]
AdminOrClient = Annotated[Principal, Depends(require(Role.admin, Role.platform))]
ClientId = Annotated[str, Path(max_length=64, description="The client's `client_id`")]


def _wake_users(request: Request) -> None:
    feed = getattr(request.app.state, "platform_feed", None)
    if feed is not None:
        feed.users.changed.set()  # the broker's users follow within a moment


@router.post("/{client_id}/secret", response_model=SecretRotated, summary="Rotate a client's secret")
async def rotate_secret(
    client_id: ClientId, session: SessionDep, principal: Admin, request: Request, response: Response
) -> SecretRotated:
    """Issue a new client secret (shown once). The previous one keeps working for
    `NOL_CLIENT_SECRET_GRACE_SECONDS` (24 h by default) so the platform can switch without a gap; any older
    one stops at once. The new secret is also the client's password on the platform broker (NATS)."""
    client = await service.client_or_404(session, principal, client_id)
    secret, client = await service.rotate_secret(session, request.app.state.settings, client=client)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Secret-Shown-Once"] = "true"
    _wake_users(request)
    return SecretRotated(
        client_id=client.client_id, client_secret=secret, previous_secret_until=client.previous_secret_until
    )


@router.post(
    "/{client_id}/webhooks",
    status_code=201,
    response_model=WebhookCreated,
    summary="Add a webhook to a client",
)
async def create_webhook(
    client_id: ClientId,
    data: WebhookCreate,
    session: SessionDep,
    principal: Admin,
    request: Request,
    response: Response,
) -> WebhookCreated:
    """Events of the given types inside the area, written from now on, are POSTed to the URL in their
    minimised platform form (`services/contracts/platform.py`), signed with the secret returned here
    (once): `X-Nol-Signature: v1=<hex HMAC-SHA256 of '<X-Nol-Timestamp>.<body>'>`. A 2xx answer
    delivers; anything else is retried with doubling back-off, then the delivery is `failed`."""
    client = await service.client_or_404(session, principal, client_id)
    hook, secret = await service.create_webhook(
        session, request.app.state.settings, principal, client=client, data=data
    )
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Secret-Shown-Once"] = "true"
    return WebhookCreated(**WebhookPublic.model_validate(hook).model_dump(), secret=secret)


@router.get("/{client_id}/webhooks", response_model=list[WebhookPublic], summary="List a client's webhooks")
async def list_webhooks(client_id: ClientId, session: SessionDep, principal: AdminOrClient) -> list:
    """A client's webhooks (admins inside its area, or the client itself)."""
    client = await service.client_or_404(session, principal, client_id)
    stmt = select(Webhook).where(Webhook.client_id == client.client_id).order_by(Webhook.created_at)
    return list((await session.exec(stmt)).all())


@router.post(
    "/{client_id}/webhooks/{webhook_id}/disable", response_model=WebhookPublic, summary="Disable a webhook"
)
async def disable_webhook(client_id: ClientId, webhook_id: uuid.UUID, session: SessionDep, principal: Admin):
    """Stop a webhook: no more events are queued for it and pending deliveries end as failed."""
    client = await service.client_or_404(session, principal, client_id)
    return await service.disable_webhook(
        session, hook=await service.webhook_or_404(session, client, webhook_id)
    )


@router.get(
    "/{client_id}/webhooks/{webhook_id}/deliveries",
    response_model=Page[DeliveryPublic],
    summary="A webhook's delivery log",
)
async def list_deliveries(
    client_id: ClientId,
    webhook_id: uuid.UUID,
    session: SessionDep,
    principal: AdminOrClient,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Annotated[str | None, Query(pattern="^(pending|delivered|failed)$")] = None,
):
    """Every event queued for the webhook, oldest first: status, attempts, the receiver's last answer."""
    client = await service.client_or_404(session, principal, client_id)
    hook = await service.webhook_or_404(session, client, webhook_id)
    stmt = service.deliveries_of(hook)
    if status:
        stmt = stmt.where(WebhookDelivery.status == status)
    return await paginate(
        session,
        stmt,
        order_by=[WebhookDelivery.id],
        limit=limit,
        cursor=cursor,
        key=lambda d: [d.id],
        to_item=DeliveryPublic.model_validate,
    )
