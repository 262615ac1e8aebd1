"""The gateway's schema: its MetaData, SQLModel base and timestamp columns."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, func
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.kit.db import service_metadata

SCHEMA = "gateway"
metadata = service_metadata(SCHEMA)


class GatewayModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of the gateway's tables."""


def now() -> datetime:
    return datetime.now(UTC)


def created_at_field() -> datetime:
    return Field(default_factory=now, sa_column=Column(
        DateTime(timezone=True), nullable=False, server_default=func.now()))


def updated_at_field() -> datetime:
    return Field(default_factory=now, sa_column=Column(
        DateTime(timezone=True), nullable=False, server_default=func.now(), index=True))
