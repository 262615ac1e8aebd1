"""Webhooks of platform clients, their delivery log, and the feed's dead letters."""

import uuid
from datetime import datetime

from sqlalchemy import ARRAY, BigInteger, Column, DateTime, Identity, LargeBinary, String, Text
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from api_gateway.db import GatewayModel, created_at_field, metadata, now, updated_at_field
from services.kit.events import dead_letter_table

dead_letter = dead_letter_table(metadata)


class Webhook(GatewayModel, table=True):
    """Where a platform client wants events POSTed: which types, inside which area."""

    __tablename__ = "webhook"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    client_id: str = Field(max_length=64, foreign_key="gateway.api_client.client_id", index=True)
    url: str = Field(max_length=2000)
    events: list[str] = Field(sa_column=Column(ARRAY(String(120)), nullable=False))
    area_code: str = Field(max_length=12)
    # The HMAC key, AES-GCM encrypted under the data key (it must be known again to sign).
    secret_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    disabled: bool = False
    version: int = 1
    created_by: str = Field(max_length=120)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class WebhookDelivery(GatewayModel, table=True):
    """One event for one webhook: pending → delivered, or failed after the last attempt."""

    __tablename__ = "webhook_delivery"

    id: int | None = Field(
        default=None, sa_column=Column(BigInteger, Identity(always=True), primary_key=True)
    )
    webhook_id: uuid.UUID = Field(foreign_key="gateway.webhook.id")
    event_id: uuid.UUID
    event_type: str = Field(max_length=120)
    payload: dict = Field(sa_column=Column(JSONB, nullable=False))
    status: str = Field(default="pending", max_length=16)
    attempts: int = 0
    next_attempt_at: datetime = Field(
        default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    delivered_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
