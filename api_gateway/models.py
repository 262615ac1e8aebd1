"""Every table of the gateway's schema, so Alembic (and tests) see one complete MetaData."""

from api_gateway.audit.models import AuditLog
from api_gateway.auth.models import RefreshToken
from api_gateway.clients.models import ApiClient
from api_gateway.db import metadata
from api_gateway.idempotency.models import IdempotencyKey
from api_gateway.platform.models import Webhook, WebhookDelivery
from api_gateway.users.models import UserAccount

__all__ = [
    "ApiClient", "AuditLog", "IdempotencyKey", "RefreshToken", "UserAccount", "Webhook", "WebhookDelivery",
    "metadata",
]
