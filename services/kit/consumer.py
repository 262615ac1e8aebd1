"""Durable JetStream consumers with an inbox: at-least-once delivery, exactly-once effect."""

import asyncio
import contextlib
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Table
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.settings import Settings

log = structlog.get_logger()
# An event as the service's contracts parse it: has `.id` and `.type`.
Handler = Callable[[AsyncSession, Any], Awaitable[None]]
Parser = Callable[[bytes], Any]


class Consumer:
    """Apply events from the stream, each effect once, recorded in the inbox in the same transaction."""

    def __init__(
        self,
        *,
        name: str,
        subjects: list[str],
        handler: Handler,
        parse: Parser,
        inbox: Table,
        sessionmaker: async_sessionmaker[AsyncSession],
        js: JetStreamContext,
        settings: Settings,
        batch: int = 200,
    ):
        self.name, self.handler, self.parse, self.inbox = name, handler, parse, inbox
        self.subjects = [f"{settings.subject_prefix}.{s.partition('.')[2]}" for s in subjects]
        self.sessionmaker, self.js, self.settings, self.batch = sessionmaker, js, settings, batch
        self.applied = 0
        self.duplicates = 0

    async def apply(self, event: Any) -> bool:
        """Apply one event unless the inbox already has it; return whether it was applied."""
        async with self.sessionmaker() as session, session.begin():
            inserted = (
                await session.execute(
                    insert(self.inbox)
                    .values(event_id=uuid.UUID(event.id), type=event.type, consumer=self.name)
                    .on_conflict_do_nothing(index_elements=["event_id"])
                    .returning(self.inbox.c.event_id)
                )
            ).first()
            if inserted is None:
                self.duplicates += 1
                return False
            await self.handler(session, event)
        self.applied += 1
        return True

    async def apply_many(self, events: list[Any]) -> int:
        """Apply events in order in ONE transaction (inbox rows and effects together); return how many."""
        ids = [uuid.UUID(e.id) for e in events]
        async with self.sessionmaker() as session, session.begin():
            fresh = set(
                (
                    await session.execute(
                        insert(self.inbox)
                        .values(
                            [
                                {"event_id": i, "type": e.type, "consumer": self.name}
                                for i, e in zip(ids, events, strict=True)
                            ]
                        )
                        .on_conflict_do_nothing(index_elements=["event_id"])
                        .returning(self.inbox.c.event_id)
                    )
                ).scalars()
            )
            applied = 0
            for event_id, event in zip(ids, events, strict=True):
                if event_id not in fresh:
                    continue  # in the inbox already, or twice in this batch (a re-publish)
                fresh.discard(event_id)
                await self.handler(session, event)
                await session.flush()
                session.expunge_all()  # each event starts as on a fresh session
                applied += 1
        self.applied += applied
        self.duplicates += len(events) - applied
        return applied

    async def _subscribe(self):
        config = ConsumerConfig(
            durable_name=self.name,
            filter_subjects=self.subjects,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=30,
            max_ack_pending=5000,
        )
        await self.js.add_consumer(self.settings.stream, config=config)
        return await self.js.pull_subscribe_bind(durable=self.name, stream=self.settings.stream)

    async def run(self) -> None:
        """Fetch, apply and ack forever."""
        while True:
            try:
                sub = await self._subscribe()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer subscribe failed; retrying", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)
        while True:
            try:
                msgs = await sub.fetch(self.batch, timeout=1)
            except (NatsTimeout, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # E.g. the durable was deleted for a replay by another replica: subscribe again.
                log.warning("consumer fetch failed; resubscribing", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)
                with contextlib.suppress(Exception):
                    sub = await self._subscribe()
                continue
            await self._handle_batch(msgs)

    async def _handle_batch(self, msgs: list[Any]) -> None:
        """Apply a fetched batch in one transaction, then ack; on any failure, one message at a time."""
        events, good = [], []
        for msg in msgs:
            try:
                events.append(self.parse(msg.data))
                good.append(msg)
            except ValueError as exc:
                log.error("unreadable event dropped", consumer=self.name, subject=msg.subject, error=str(exc))
                await msg.term()
        if len(good) > 1:
            try:
                await self.apply_many(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch failed; applying one by one", consumer=self.name, error=repr(exc))
            else:
                for msg in good:
                    await msg.ack()
                return
        for msg in good:
            await self._handle(msg)

    async def _handle(self, msg: Any) -> None:
        try:
            event = self.parse(msg.data)
        except ValueError as exc:
            log.error("unreadable event dropped", consumer=self.name, subject=msg.subject, error=str(exc))
            await msg.term()
            return
        try:
            await self.apply(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception(
                "event handling failed; will be redelivered",
                consumer=self.name,
                event_id=event.id,
                type=event.type,
                error=repr(exc),
            )
            await msg.nak(delay=2)
            return
        await msg.ack()


async def pending(js: JetStreamContext, settings: Settings, name: str) -> dict[str, int]:
    """Return how far a durable consumer is behind the stream."""
    info = await js.consumer_info(settings.stream, name)
    return {
        "pending": info.num_pending or 0,
        "unacknowledged": info.num_ack_pending or 0,
        "delivered": info.delivered.stream_seq if info.delivered else 0,
    }
