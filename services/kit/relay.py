"""Outbox relay: publish committed outbox rows to JetStream, then mark them published.

Woken by LISTEN/NOTIFY, and polls as a fallback. Rows are picked by
`published_at IS NULL` (never "after the last id seen": ids are handed out before
commit, so a late commit would be skipped) with `FOR UPDATE SKIP LOCKED`, so
several relays can run side by side. `Nats-Msg-Id` = event id lets the broker
drop a re-publish after a crash between publish and mark.
"""

import asyncio
import contextlib
import json
import time
from typing import Any

import asyncpg
import structlog
from nats.js import JetStreamContext
from sqlalchemy import Table, Text, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.kit.barrier import flush_subject
from services.kit.db import asyncpg_dsn
from services.kit.events import notify_channel, subject_for
from services.kit.settings import Settings
from services.kit.tasks import stop_if_cancelled

log = structlog.get_logger()


class Relay:
    """Publish one schema's outbox to the stream."""

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        outbox: Table,
        js: JetStreamContext,
        settings: Settings,
        batch_size: int | None = None,
        service: str | None = None,
    ):
        self.engine, self.outbox, self.js, self.settings = engine, outbox, js, settings
        self.service = service
        self._flushes: set[asyncio.Task] = set()
        self._flush_lock = asyncio.Lock()
        self._asked = self._served = 0
        self._last_flush: dict[str, int] = {}
        self.schema = outbox.schema or "public"
        self.batch_size = batch_size or settings.relay_batch_size
        self._wake = asyncio.Event()
        self.published = 0

    async def publish_batch(self) -> int:
        """Publish up to one batch of unpublished rows; return how many."""
        t = self.outbox
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    # The payload as text: published as stored, no JSON decode and re-encode.
                    select(t.c.id, t.c.type, t.c.payload.cast(Text).label("payload"))
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.position)  # insert order: a transaction's events in the order it wrote them
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            futures = [
                await self.js.publish_async(
                    subject_for(row.type, self.settings),
                    row.payload.encode(),
                    headers={"Nats-Msg-Id": str(row.id)},
                )
                for row in rows
            ]
            await asyncio.wait_for(asyncio.gather(*futures), timeout=self.settings.relay_ack_timeout_seconds)
            await conn.execute(
                t.update().where(t.c.id.in_([row.id for row in rows])).values(published_at=func.now())
            )
        self.published += len(rows)
        return len(rows)

    async def drain(self) -> int:
        """Publish until nothing is left; return the count."""
        total = 0
        while n := await self.publish_batch():
            total += n
        return total

    async def flush(self) -> dict[str, int]:
        """Publish every row committed so far; return the highest outbox position and the stream's last seq.

        Rows another relay holds (SKIP LOCKED) are being published by it: wait until they are marked.
        """
        t = self.outbox
        async with self.engine.connect() as conn:
            position = (await conn.execute(select(func.max(t.c.position)))).scalar() or 0
            pending = (
                await conn.execute(select(func.max(t.c.position)).where(t.c.published_at.is_(None)))
            ).scalar()
        deadline = time.monotonic() + self.settings.barrier_timeout_seconds
        while pending is not None:
            await self.drain()
            async with self.engine.connect() as conn:
                left = (
                    await conn.execute(
                        select(t.c.id).where(t.c.published_at.is_(None), t.c.position <= pending).limit(1)
                    )
                ).first()
            if left is None:
                break
            if time.monotonic() > deadline:  # the asker has given up by now
                raise TimeoutError("outbox rows still unpublished")
            await asyncio.sleep(0.01)
        info = await self.js.stream_info(self.settings.stream)
        return {"position": int(position), "seq": int(info.state.last_seq)}

    async def flush_shared(self) -> dict[str, int]:
        """Flush once for every request that arrived before the flush began (at most one runs at a time).

        A request waiting while a flush runs is served by the next one, which starts after it
        arrived; requests that came in together share that next flush.
        """
        self._asked += 1
        ticket = self._asked
        async with self._flush_lock:
            if self._served >= ticket:
                return self._last_flush
            covers = self._asked
            self._last_flush = await self.flush()
            self._served = covers
            return self._last_flush

    async def serve_flush(self, nc: Any) -> Any:
        """Answer flush requests for this service (one relay of a queue group answers each)."""

        async def _answer(msg: Any) -> None:
            try:
                reply = await self.flush_shared()
            except Exception as exc:  # say so at once: the asker answers 503 instead of waiting
                log.warning("flush failed", service=self.service, error=repr(exc))
                reply = {"error": type(exc).__name__}
            with contextlib.suppress(Exception):
                await msg.respond(json.dumps(reply).encode())

        async def _on_request(msg: Any) -> None:
            task = asyncio.create_task(_answer(msg))
            self._flushes.add(task)
            task.add_done_callback(self._flushes.discard)

        return await nc.subscribe(
            flush_subject(self.settings, self.service or self.schema), queue="flush", cb=_on_request
        )

    async def _listen(self) -> None:
        """Keep a LISTEN connection open; each notification wakes the loop."""
        dsn = asyncpg_dsn(self.engine.url)

        def _on_notify(*_: Any) -> None:
            self._wake.set()

        while True:
            stop_if_cancelled()
            conn = None
            try:
                conn = await asyncpg.connect(dsn)
                closed = asyncio.Event()
                conn.add_termination_listener(lambda *_, ev=closed: ev.set())
                await conn.add_listener(notify_channel(self.schema), _on_notify)
                self._wake.set()  # catch up on anything committed while not listening
                await closed.wait()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("relay listen connection failed", schema=self.schema, error=str(exc))
            finally:
                if conn is not None and not conn.is_closed():
                    await conn.close()
            await asyncio.sleep(1)

    async def run(self) -> None:
        """Relay forever: drain on every wake-up or poll tick; back off on failures."""
        listener = asyncio.create_task(self._listen())
        backoff = 0.2
        try:
            while True:
                stop_if_cancelled()
                self._wake.clear()  # before draining: a notification during the drain wakes the next round
                try:
                    await self.drain()
                    backoff = 0.2
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    log.warning(
                        "relay publish failed; retrying",
                        schema=self.schema,
                        error=repr(exc),
                        retry_in=backoff,
                    )
                    await asyncio.sleep(backoff)
                    # At most a second: a failed attempt costs one query, and the outbox
                    # should start draining as soon as the broker is back.
                    backoff = min(backoff * 2, 1.0)
                    continue
                try:
                    await asyncio.wait_for(self._wake.wait(), self.settings.relay_poll_seconds)
                except TimeoutError:
                    pass
        finally:
            listener.cancel()
