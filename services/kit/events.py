"""The event envelope, the outbox table and `add_event` (same transaction as the change)."""

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, func, text
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit.settings import Settings


def outbox_table(metadata: MetaData) -> Table:
    """Define a service's outbox table in its own schema."""
    return Table(
        "outbox",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("type", String(120), nullable=False),
        Column("subject", String(64), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
        Index("ix_outbox_unpublished", "created_at", postgresql_where=text("published_at IS NULL")),
    )


def inbox_table(metadata: MetaData) -> Table:
    """Define a service's inbox: one row per handled event id."""
    return Table(
        "inbox",
        metadata,
        Column("event_id", UUID(as_uuid=True), primary_key=True),
        Column("type", String(120), nullable=False),
        Column("consumer", String(64), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("attempts", Integer, nullable=False, server_default="1"),
    )


def notify_channel(schema: str) -> str:
    return f"nol_outbox_{schema}"


def outbox_trigger_ddl(schema: str) -> list[str]:
    """Return the DDL of the trigger that wakes the relay when outbox rows commit."""
    channel = notify_channel(schema)
    return [
        f"""CREATE OR REPLACE FUNCTION {schema}.notify_outbox() RETURNS trigger
            LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$""",
        f"""CREATE TRIGGER outbox_notify AFTER INSERT ON {schema}.outbox
            FOR EACH STATEMENT EXECUTE FUNCTION {schema}.notify_outbox()""",
    ]


def subject_for(event_type: str, settings: Settings) -> str:
    """Map an event type (`edu.registry.student.created`) to its NATS subject."""
    _, _, rest = event_type.partition(".")
    return f"{settings.subject_prefix}.{rest}"


def envelope(
    *,
    event_type: str,
    source: str,
    subject: str,
    data: dict[str, Any],
    area_code: str | None = None,
    school_code: str | None = None,
    version: int | None = None,
) -> dict[str, Any]:
    """Build an event envelope as DESIGN.md describes."""
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": source,
        "time": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        "subject": subject,
        "area_code": area_code,
        "school_code": school_code,
        "version": version,
        "data": data,
    }


async def add_event(session: AsyncSession, outbox: Table, event: dict[str, Any]) -> None:
    """Write an event to the outbox inside the caller's transaction."""
    await session.execute(
        outbox.insert().values(
            id=uuid.UUID(event["id"]),
            type=event["type"],
            subject=event["subject"],
            payload=event,
        )
    )


class Emitter:
    """A service's way to record its events: `await emit(session, type, subject=..., data=...)`."""

    def __init__(self, outbox: Table, source: str):
        self.outbox, self.source = outbox, source

    def event(
        self,
        event_type: str,
        *,
        subject: str,
        data: dict[str, Any],
        area_code: str | None = None,
        school_code: str | None = None,
        version: int | None = None,
    ) -> dict[str, Any]:
        """Build an envelope of this service's."""
        return envelope(
            event_type=event_type,
            source=self.source,
            subject=subject,
            data=data,
            area_code=area_code,
            school_code=school_code,
            version=version,
        )

    async def __call__(self, session: AsyncSession, event_type: str, **kw: Any) -> None:
        """Record one event in the outbox, in the session's transaction."""
        await add_event(session, self.outbox, self.event(event_type, **kw))
