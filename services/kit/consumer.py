"""Durable JetStream consumers with an inbox: at-least-once delivery, exactly-once effect."""

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import structlog
from nats.errors import TimeoutError as NatsTimeout
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import Table, exists, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit import tracing
from services.kit.settings import Settings
from services.kit.tasks import stop_if_cancelled

log = structlog.get_logger()
# An event as the service's contracts parse it: has `.id` and `.type`.
Handler = Callable[[AsyncSession, Any], Awaitable[None]]
# Applies several fresh events in order in one session, as the handler would one by one (set-wise).
BatchHandler = Callable[[AsyncSession, list[Any]], Awaitable[None]]
Parser = Callable[[bytes], Any]
ERROR_LIMIT = 4000  # characters of an error kept with a dead letter
OUTAGE_RETRY_SECONDS = 2.0


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
        dead_letter: Table | None = None,
        batch: int = 200,
        batch_handler: BatchHandler | None = None,
    ):
        self.name, self.handler, self.parse, self.inbox = name, handler, parse, inbox
        self.batch_handler = batch_handler
        self.dead_letter = dead_letter
        self.subjects = [f"{settings.subject_prefix}.{s.partition('.')[2]}" for s in subjects]
        self.sessionmaker, self.js, self.settings, self.batch = sessionmaker, js, settings, batch
        self.applied = 0
        self.duplicates = 0
        self.dead_lettered = 0

    async def apply(self, event: Any) -> bool:
        """Apply one event unless the inbox already has it; return whether it was applied."""
        async with self.sessionmaker() as session, session.begin():
            return await self.apply_in(session, event)

    async def apply_in(self, session: AsyncSession, event: Any) -> bool:
        """Apply one event in the caller's transaction unless the inbox has it; return whether it did."""
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
        await self.handle_traced(session, event)
        self.applied += 1
        return True

    async def handle_traced(self, session: AsyncSession, event: Any) -> None:
        """Run the handler in a span continuing the trace of the request that caused the event."""
        parent = getattr(event, "traceparent", None)
        attributes = {
            "messaging.consumer.group.name": self.name,
            "messaging.message.id": str(event.id),
            "event.type": str(event.type),
        }
        with tracing.span(
            f"apply {event.type}",
            carrier={"traceparent": parent} if parent else None,
            kind=tracing.SpanKind.CONSUMER,
            attributes=attributes,
        ):
            await self.handler(session, event)
            log.debug("event applied", consumer=self.name, event_id=str(event.id), type=event.type)

    async def _handle_set_wise(self, session: AsyncSession, events: list[Any]) -> None:
        """Run the batch handler in one span linked to the trace of each event it applies."""
        parents = [p for p in (getattr(e, "traceparent", None) for e in events) if p]
        attributes = {
            "messaging.consumer.group.name": self.name,
            "messaging.batch.message_count": len(events),
        }
        kind = tracing.SpanKind.CONSUMER
        with tracing.span(f"apply {len(events)} events", kind=kind, attributes=attributes, links=parents):
            await self.batch_handler(session, events)
            await session.flush()
            session.expunge_all()
        log.debug("events applied", consumer=self.name, count=len(events))

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
            todo = []
            for event_id, event in zip(ids, events, strict=True):
                if event_id not in fresh:
                    continue  # in the inbox already, or twice in this batch (a re-publish)
                fresh.discard(event_id)
                todo.append(event)
            if self.batch_handler is not None and len(todo) > 1:
                await self._handle_set_wise(session, todo)
            else:
                for event in todo:
                    await self.handle_traced(session, event)
                    await session.flush()
                    session.expunge_all()  # each event starts as on a fresh session
            applied = len(todo)
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
            stop_if_cancelled()
            try:
                sub = await self._subscribe()
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("consumer subscribe failed; retrying", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)
        while True:
            stop_if_cancelled()
            try:
                msgs = await sub.fetch(self.batch, timeout=1)
            except (NatsTimeout, TimeoutError):
                continue
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # E.g. the durable was deleted for a replay by another replica: bind to it again once
                # that replica has recreated it (creating it here could race its clear of the
                # projection); create it ourselves only if nobody does within a while.
                log.warning("consumer fetch failed; resubscribing", consumer=self.name, error=repr(exc))
                sub = await self._rebind(sub)
                continue
            try:
                await self._handle_batch(msgs)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # never let one odd batch end the consumer: its messages come back
                log.error("consumer batch failed", consumer=self.name, error=repr(exc))
                await asyncio.sleep(1)

    async def _rebind(self, sub: Any, *, patience: int = 30) -> Any:
        for attempt in range(patience + 1):
            stop_if_cancelled()
            await asyncio.sleep(1)
            try:
                if attempt < patience:
                    return await self.js.pull_subscribe_bind(durable=self.name, stream=self.settings.stream)
                return await self._subscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("consumer not bound yet", consumer=self.name, error=repr(exc))
        return sub

    async def _handle_batch(self, msgs: list[Any]) -> None:
        """Apply a fetched batch in one transaction, then ack; on any failure, one message at a time."""
        events, good = [], []
        for msg in msgs:
            if not any(subject_matches(msg.subject, s) for s in self.subjects):
                # A broker older than 2.10 ignores `filter_subjects` and sends the whole stream.
                await _settle(msg.ack())
                continue
            try:
                events.append(self.parse(msg.data))
                good.append(msg)
            except ValueError as exc:
                await self._give_up(msg, None, exc)  # unreadable: no redelivery can help
        if len(good) > 1:
            try:
                await self.apply_many(events)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.info("batch failed; applying one by one", consumer=self.name, error=repr(exc))
            else:
                for msg in good:
                    await _settle(msg.ack())
                return
        for msg in good:
            await self._handle(msg)

    async def _handle(self, msg: Any) -> None:
        """Apply one message; a failure is redelivered with back-off, then dead-lettered."""
        try:
            event = self.parse(msg.data)
        except ValueError as exc:
            await self._give_up(msg, None, exc)
            return
        try:
            await self.apply(event)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            attempts = deliveries(msg)
            outage = is_outage(exc)
            if outage or attempts < self.settings.consumer_max_deliveries:
                # One line, no traceback: the dead letter keeps the error if it comes to that.
                log.info(
                    "event handling failed; will be redelivered",
                    consumer=self.name,
                    event_id=event.id,
                    type=event.type,
                    attempt=attempts,
                    error=error_text(exc)[:300],
                )
                await self._nak(msg, outage=outage)
                return
            await self._give_up(msg, event, exc)
            return
        await _settle(msg.ack())

    async def _nak(self, msg: Any, *, outage: bool = False) -> None:
        # An outage is not the event's fault: retry at a steady pace, so it applies soon after recovery.
        delay = OUTAGE_RETRY_SECONDS if outage else backoff(self.settings, deliveries(msg))
        await _settle(msg.nak(delay=delay))

    async def _give_up(self, msg: Any, event: Any, exc: Exception) -> None:
        """Keep the event in the dead-letter table with its error, then ack it (nak if the DB is out)."""
        if self.dead_letter is None:
            log.error("event dropped (no dead-letter table)", consumer=self.name, error=error_text(exc))
            await _settle(msg.term())
            return
        row = letter_row(self.name, msg, event, exc)
        try:
            async with self.sessionmaker() as session, session.begin():
                await self._record(session, row)
        except asyncio.CancelledError:
            raise
        except Exception as err:  # an outage, not a poison event: try again later
            log.warning("dead letter not written; will be redelivered", consumer=self.name, error=repr(err))
            await self._nak(msg, outage=True)
            return
        self.dead_lettered += 1
        log.error("event dead-lettered", **{k: str(v) for k, v in row.items() if k != "payload"})
        await _settle(msg.ack())

    async def _record(self, session: AsyncSession, row: dict[str, Any]) -> None:
        """Insert the letter unless one for this event is already open (its ack was lost)."""
        dl = self.dead_letter
        key = "event_id" if row["event_id"] else "stream_seq"
        same = dl.c[key] == row[key]
        already = select(exists().where(dl.c.consumer == self.name, dl.c.status == "open", same))
        if not await session.scalar(already):
            await session.execute(dl.insert().values(**row))


async def _settle(call: Awaitable[Any]) -> None:
    """Ack, nak or term; a lost one only means a redelivery, which the inbox makes harmless."""
    try:
        await call
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        log.warning("ack/nak not delivered; the event will come again", error=repr(exc))


def subject_matches(subject: str, pattern: str) -> bool:
    """Whether a NATS subject matches a filter (`*` one token, `>` the rest)."""
    parts, wanted = subject.split("."), pattern.split(".")
    for i, part in enumerate(wanted):
        if part == ">":
            return len(parts) > i
        if i >= len(parts) or part not in ("*", parts[i]):
            return False
    return len(parts) == len(wanted)


def deliveries(msg: Any) -> int:
    """Return how many times the broker has delivered this message (1 the first time)."""
    try:
        return int(msg.metadata.num_delivered)
    except Exception:
        return 1


def backoff(settings: Settings, attempts: int) -> float:
    """Return the delay before the next delivery: base, 2 × base, 4 × base … up to the cap."""
    delay = settings.consumer_backoff_seconds * 2 ** max(0, min(attempts - 1, 30))
    return min(delay, settings.consumer_backoff_max_seconds)


OUTAGE_NAMES = frozenset(
    {
        "PostgresConnectionError",
        "ConnectionDoesNotExistError",
        "ConnectionFailureError",
        "CannotConnectNowError",
        "AdminShutdownError",
        "CrashShutdownError",
        "TooManyConnectionsError",
        "InterfaceError",
        # Contention, not a poison event: another transaction got there first; trying again succeeds.
        "DeadlockDetectedError",
        "SerializationError",
        "LockNotAvailableError",
        "QueryCanceledError",
    }
)


def is_outage(exc: BaseException) -> bool:
    """Whether a failure is the database or network being away (retry as long as it takes)."""
    seen: set[int] = set()
    node: BaseException | None = exc
    while node is not None and id(node) not in seen:
        seen.add(id(node))
        if isinstance(node, OSError | TimeoutError | sa_exc.TimeoutError | sa_exc.InterfaceError):
            return True
        if isinstance(node, sa_exc.DBAPIError) and node.connection_invalidated:
            return True
        if type(node).__name__ in OUTAGE_NAMES:
            return True
        node = node.__cause__ or node.__context__
    return False


def error_text(exc: BaseException) -> str:
    """Return an error as a line or two: the driver's own kind, message and detail, without the SQL."""
    root = exc
    while root.__cause__ is not None and len(str(root.__cause__)) > 0:
        root = root.__cause__  # SQLAlchemy wraps the driver's error, whose name says more
    text = str(root).split("\n[SQL:", 1)[0].strip()
    detail = getattr(root, "detail", None)
    if isinstance(detail, str) and detail:
        text += f" ({detail})"
    return f"{type(root).__name__}: {text}"[:ERROR_LIMIT]


def letter_row(consumer: str, msg: Any, event: Any, exc: Exception) -> dict[str, Any]:
    """Return a dead-letter row for a message: what it was, where it came from, why it failed."""
    event_id, event_type = _identity(msg.data) if event is None else (event.id, event.type)
    try:
        event_id = uuid.UUID(str(event_id)) if event_id else None
    except ValueError:
        event_id = None
    try:
        stream_seq = msg.metadata.sequence.stream
    except Exception:
        stream_seq = None
    return {
        "consumer": consumer,
        "event_id": event_id,
        "type": str(event_type)[:120] if event_type else None,
        "subject": str(msg.subject)[:200],
        "stream_seq": stream_seq,
        "payload": bytes(msg.data).decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
        "error": error_text(exc),
        "attempts": deliveries(msg),
    }


def _identity(data: bytes) -> tuple[Any, Any]:
    """Return the id and type an unreadable event claims, where it says them."""
    try:
        raw = json.loads(data)
    except ValueError:
        return None, None
    return (raw.get("id"), raw.get("type")) if isinstance(raw, dict) else (None, None)


async def pending(js: JetStreamContext, settings: Settings, name: str) -> dict[str, int]:
    """Return how far a durable consumer is behind the stream."""
    info = await js.consumer_info(settings.stream, name)
    return {
        "pending": info.num_pending or 0,
        "unacknowledged": info.num_ack_pending or 0,
        "delivered": info.delivered.stream_seq if info.delivered else 0,
    }
