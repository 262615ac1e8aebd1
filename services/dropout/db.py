"""The dropout service's schema: its MetaData, SQLModel base, outbox and inbox."""

from datetime import UTC, datetime

from sqlalchemy import Column, DateTime, func
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from services.kit.db import service_metadata
from services.kit.events import dead_letter_table, inbox_table, outbox_table

SCHEMA = "dropout"
metadata = service_metadata(SCHEMA)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)
dead_letter = dead_letter_table(metadata)


class DropoutModel(SQLModel, registry=registry(metadata=metadata)):
    """Base of the dropout service's tables."""


def now() -> datetime:
    return datetime.now(UTC)


def created_at_field() -> datetime:
    return Field(
        default_factory=now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now()),
    )


def updated_at_field() -> datetime:
    return Field(
        default_factory=now,
        sa_column=Column(DateTime(timezone=True), nullable=False, server_default=func.now(), index=True),
    )
