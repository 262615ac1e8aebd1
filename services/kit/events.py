"""The event envelope, the outbox table and `add_event` (same transaction as the change)."""

import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    select,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.ext.asyncio import AsyncSession

from services.kit import tracing
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
        # Commit-independent order of the service's writes: `X-Event-Position: <service>:<position>`.
        Column("position", BigInteger, Identity(always=True), nullable=False),
        Index("ix_outbox_position", "position", unique=True),
        Index("ix_outbox_unpublished", "created_at", postgresql_where=text("published_at IS NULL")),
    )


def dead_letter_table(metadata: MetaData) -> Table:
    """Define a service's dead letters: events a consumer gave up on, kept with the error for a replay."""
    return Table(
        "dead_letter",
        metadata,
        Column("id", BigInteger, Identity(always=True), primary_key=True),
        Column("consumer", String(64), nullable=False),
        Column("event_id", UUID(as_uuid=True)),
        Column("type", String(120)),
        Column("subject", String(200), nullable=False),
        Column("stream_seq", BigInteger),
        Column("payload", Text, nullable=False),
        Column("error", Text, nullable=False),
        Column("attempts", Integer, nullable=False),
        # open → replayed (applied again after a fix) or resolved (dismissed with a note)
        Column("status", String(16), nullable=False, server_default="open"),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("resolved_at", DateTime(timezone=True)),
        Column("resolved_by", String(120)),
        Column("note", Text),
        Index("ix_dead_letter_open", "consumer", postgresql_where=text("status = 'open'")),
    )


def backbone_ddl(schema: str) -> list[str]:
    """Return the DDL that adds dead letters and outbox positions to a service created before them."""
    return [
        f"""CREATE TABLE {schema}.dead_letter (
            id bigint GENERATED ALWAYS AS IDENTITY CONSTRAINT pk_dead_letter PRIMARY KEY,
            consumer varchar(64) NOT NULL, event_id uuid, type varchar(120), subject varchar(200) NOT NULL,
            stream_seq bigint, payload text NOT NULL, error text NOT NULL, attempts integer NOT NULL,
            status varchar(16) NOT NULL DEFAULT 'open',
            created_at timestamptz NOT NULL DEFAULT now(), resolved_at timestamptz,
            resolved_by varchar(120), note text)""",
        f"CREATE INDEX ix_dead_letter_open ON {schema}.dead_letter (consumer) WHERE status = 'open'",
        f"ALTER TABLE {schema}.outbox ADD COLUMN position bigint GENERATED ALWAYS AS IDENTITY",
        f"CREATE UNIQUE INDEX ix_outbox_position ON {schema}.outbox (position)",
    ]


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
    """Build an event envelope as DESIGN.md describes (with the current trace, when there is one)."""
    event = {
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
    parent = tracing.traceparent()
    if parent:
        event["traceparent"] = parent  # the consumer that applies it continues this trace
    return event


def note_position(session: AsyncSession, position: int | None) -> None:
    """Remember the highest outbox position this transaction wrote (for `X-Event-Position`)."""
    if position is not None:
        session.info["event_position"] = max(position, session.info.get("event_position") or 0)


async def add_event(session: AsyncSession, outbox: Table, event: dict[str, Any]) -> None:
    """Write an event to the outbox inside the caller's transaction."""
    position = await session.scalar(
        outbox.insert()
        .values(
            id=uuid.UUID(event["id"]),
            type=event["type"],
            subject=event["subject"],
            payload=event,
        )
        .returning(outbox.c.position)
    )
    note_position(session, position)


Validator = Callable[[dict[str, Any]], dict[str, Any]]


class Emitter:
    """A service's way to record its events: `await emit(session, type, subject=..., data=...)`.

    Each event passes `validate` (the contracts' catalogue) before it enters the outbox, so a
    malformed event fails the producer's transaction instead of reaching a consumer.
    """

    def __init__(self, outbox: Table, source: str, *, validate: Validator):
        self.outbox, self.source, self.validate = outbox, source, validate

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
        """Build an envelope of this service's, checked against the catalogue."""
        return self.validate(
            envelope(
                event_type=event_type,
                source=self.source,
                subject=subject,
                data=data,
                area_code=area_code,
                school_code=school_code,
                version=version,
            )
        )

    async def __call__(self, session: AsyncSession, event_type: str, **kw: Any) -> None:
        """Record one event in the outbox, in the session's transaction."""
        await add_event(session, self.outbox, self.event(event_type, **kw))

    async def emit_all(self, session: AsyncSession, events: list[dict[str, Any]]) -> None:
        """Write events built with `event` to the outbox in one statement."""
        if events:
            rows = [{"id": e["id"], "type": e["type"], "subject": e["subject"], "payload": e} for e in events]
            await session.execute(self.outbox.insert(), rows)
            last = select(func.max(self.outbox.c.position)).where(
                self.outbox.c.id.in_([uuid.UUID(str(e["id"])) for e in events])
            )
            note_position(session, await session.scalar(last))
