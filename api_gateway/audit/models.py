"""The `audit_log` table: append-only, each row chained to the previous one by hash."""

from datetime import datetime

from sqlalchemy import BigInteger, Column, DateTime, Identity
from sqlmodel import Field

from api_gateway.db import GatewayModel


class AuditLog(GatewayModel, table=True):
    __tablename__ = "audit_log"

    id: int | None = Field(default=None, sa_column=Column(BigInteger, Identity(), primary_key=True))
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor: str = Field(max_length=64, index=True)
    actor_role: str = Field(max_length=16)
    actor_area_code: str = Field(max_length=12, index=True)
    action: str = Field(max_length=32, index=True)
    method: str = Field(max_length=8)
    path: str = Field(max_length=512)
    target_type: str | None = Field(default=None, max_length=64)
    target_id: str | None = Field(default=None, max_length=128, index=True)
    status: int
    request_id: str | None = Field(default=None, max_length=128)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64, unique=True)
