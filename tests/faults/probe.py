"""Test-only consumer process whose effect is NOT idempotent, so a double application shows.

    python -m tests.faults.probe

It runs the kit's `Consumer` (the class every service uses: durable pull
consumer, inbox row and effect in one transaction, ack after commit) on the
registry's student events, with a handler that appends one row per application
to `faultprobe.applied`. The services' own projections are upserts by version and
would hide a double; here only the inbox stands between a redelivery (a relay
re-publish after the broker's dedup window, a consumer killed before its ack)
and a second row. Applied twice = rows - distinct event ids.
"""

import asyncio
import signal
import uuid

from sqlalchemy import BigInteger, Column, Integer, MetaData, Table, text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from services.contracts import events
from services.contracts.events import Event
from services.kit import nats as kit_nats
from services.kit.consumer import Consumer
from services.kit.db import async_url, make_engine, sessionmaker_for
from services.kit.events import dead_letter_table, inbox_table
from services.kit.settings import get_settings

SCHEMA = "faultprobe"
NAME = "fault-probe"
metadata = MetaData(schema=SCHEMA)
inbox = inbox_table(metadata)
dead_letter = dead_letter_table(metadata)
applied = Table(
    "applied",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=True),
    Column("event_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("student_id", UUID(as_uuid=True), nullable=False),
    Column("version", Integer, nullable=False),
)


async def append(session: AsyncSession, event: Event) -> None:
    """Append one row per application (deliberately not an upsert)."""
    await session.execute(
        applied.insert().values(
            event_id=uuid.UUID(event.id), student_id=uuid.UUID(event.subject), version=event.version or 0
        )
    )


async def create_tables(engine: AsyncEngine) -> None:
    """Create the probe's schema, inbox and log (idempotent)."""
    async with engine.begin() as conn:
        await conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}"))
        await conn.run_sync(metadata.create_all)


async def main() -> None:
    settings = get_settings()
    engine = make_engine(async_url(settings.database_url), pool_size=2, application_name="nol-fault-probe")
    while True:  # started again mid-outage by the tests: wait for the database
        try:
            await create_tables(engine)
            break
        except Exception:
            await asyncio.sleep(0.5)
    nc = await kit_nats.connect(settings, name=NAME)
    js = nc.jetstream()
    consumer = Consumer(
        name=NAME,
        subjects=["edu.registry.student.>"],
        handler=append,
        parse=events.parse,
        inbox=inbox,
        dead_letter=dead_letter,
        sessionmaker=sessionmaker_for(engine),
        js=js,
        settings=settings,
    )
    task = asyncio.create_task(consumer.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await nc.close()
        await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main())
