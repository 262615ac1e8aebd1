"""The `idempotency_key` table: one row per (caller, key), pending until the response is stored."""

from datetime import datetime

from sqlalchemy import Column, DateTime, Index, LargeBinary
from sqlmodel import Field

from api_gateway.db import GatewayModel, created_at_field


class IdempotencyKey(GatewayModel, table=True):
    __tablename__ = "idempotency_key"
    __table_args__ = (Index("ix_idempotency_key_created_at", "created_at"),)

    principal_sub: str = Field(max_length=64, primary_key=True)
    key: str = Field(max_length=255, primary_key=True)
    method: str = Field(max_length=8)
    path: str = Field(max_length=512)
    request_hash: str = Field(max_length=64)
    # NULL until the first response is stored: the request is still in progress.
    status: int | None = Field(default=None)
    response_body: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    response_content_type: str | None = Field(default=None, max_length=255)
    created_at: datetime = created_at_field()
    completed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
