"""The platform feed: every internal event, minimised, to the platform broker and to webhooks.

A durable consumer of the internal stream (`NOL_PLATFORM_FEED_NAME`) republishes each event in its
platform form (`services.contracts.platform`) to `platform.<province>.<city>.<county>.<service>.<entity>.
<event>` with `Nats-Msg-Id` = the event id (a stream capturing `platform.>` drops a re-publish; a plain
subscriber can drop it by that header), and queues one delivery per matching webhook (unique per
webhook and event) before it acks. A worker POSTs the deliveries, signed, with back-off.
"""

import asyncio
import contextlib
import hashlib
import hmac
import json
import ssl
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import nats
import structlog
from nats.aio.client import Client
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from sqlalchemy import select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.clients.models import ApiClient
from api_gateway.platform.models import Webhook, WebhookDelivery, dead_letter
from api_gateway.platform.natsusers import NatsUserSync
from services.contracts.events.bulk import is_bulk, student_events_raw
from services.contracts.platform import PLATFORM_VERSION, minimise, subject_for
from services.kit.consumer import Consumer, subject_matches
from services.kit.crypto import id_cipher
from services.kit.nats import connect, ensure_stream
from services.kit.settings import Settings
from services.kit.tasks import stop_if_cancelled

log = structlog.get_logger()
STOP_SECONDS = 5.0  # the feed's tasks end within a fetch's second; a stuck one is left behind
SECRET_CONTEXT = b"webhook_secret"
SIGNATURE_HEADER = "X-Nol-Signature"
TIMESTAMP_HEADER = "X-Nol-Timestamp"


@dataclass(frozen=True)
class RawEvent:
    id: str
    type: str
    raw: dict[str, Any]


def parse(data: bytes) -> RawEvent:
    raw = json.loads(data)
    if not isinstance(raw, dict) or not raw.get("id") or not raw.get("type"):
        raise ValueError("not an event envelope")
    return RawEvent(id=str(raw["id"]), type=str(raw["type"]), raw=raw)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """Return the signature header's value: `v1=` + hex HMAC-SHA256 of `<timestamp>.<body>`."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _event_time(raw: dict[str, Any]) -> datetime | None:
    with contextlib.suppress(TypeError, ValueError):
        return datetime.fromisoformat(str(raw.get("time")).replace("Z", "+00:00"))
    return None


def wanted(hook: Webhook, raw: dict[str, Any]) -> bool:
    """Whether a webhook asked for this event: its type, its area, and written after the webhook was."""
    area, when = raw.get("area_code"), _event_time(raw)
    return (
        bool(area)
        and str(area).startswith(hook.area_code)
        and any(subject_matches(raw["type"], pattern) for pattern in hook.events)
        and (when is None or when >= hook.created_at)
    )


class FeedConsumer(Consumer):
    """The feed starts where the stream is when it is first created (no replay of history).

    It keeps no inbox: its effects are idempotent by themselves (a delivery is unique per webhook and
    event; a re-publish carries the same `Nats-Msg-Id`), so a redelivered event is handled again."""

    ready: asyncio.Event | None = None

    async def apply_in(self, session: AsyncSession, event: Any) -> bool:
        await self.handler(session, event)
        self.applied += 1
        return True

    async def apply_many(self, events: list[Any]) -> int:
        async with self.sessionmaker() as session, session.begin():
            for event in events:
                await self.handler(session, event)
        self.applied += len(events)
        return len(events)

    async def _subscribe(self):
        sub = await self._bind()
        if self.ready is not None:
            self.ready.set()
        return sub

    async def _bind(self):
        config = ConsumerConfig(
            durable_name=self.name,
            filter_subjects=self.subjects,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.NEW,
            ack_wait=30,
            max_ack_pending=5000,
        )
        with contextlib.suppress(Exception):  # already there: keep its position
            await self.js.consumer_info(self.settings.stream, self.name)
            return await self.js.pull_subscribe_bind(durable=self.name, stream=self.settings.stream)
        await self.js.add_consumer(self.settings.stream, config=config)
        return await self.js.pull_subscribe_bind(durable=self.name, stream=self.settings.stream)


class PlatformFeed:
    """Started and stopped by the gateway's lifespan."""

    def __init__(self, settings: Settings, sessionmaker: async_sessionmaker[AsyncSession]):
        self.settings, self.sessionmaker = settings, sessionmaker
        self.nc: Client | None = None
        self.out: Client | None = None
        self.tasks: list[asyncio.Task] = []
        self.wake = asyncio.Event()
        self.ready = asyncio.Event()  # the feed's durable consumer is bound
        self.consumer: Consumer | None = None
        self.published, self.last_subject = 0, ""
        self.users = NatsUserSync(settings, sessionmaker)
        self.http = httpx.AsyncClient(timeout=settings.webhook_timeout_seconds, follow_redirects=False)

    async def start(self) -> None:
        if self.settings.platform_nats_auth_file:
            self.tasks.append(asyncio.create_task(self.users.run(), name="platform-nats-users"))
        self.tasks.append(asyncio.create_task(self.deliver_forever(), name="webhook-deliveries"))
        if self.settings.platform_feed:
            self.tasks.append(asyncio.create_task(self._feed(), name="platform-feed"))

    async def _feed(self) -> None:
        while True:  # the brokers may come up after the gateway
            stop_if_cancelled()
            try:
                self.nc = await connect(self.settings, name="gateway-platform-feed")
                self.out = self.nc
                if self.settings.platform_nats_url:
                    self.out = await self._connect_platform()
                await ensure_stream(self.nc.jetstream(), self.settings)
                break
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("platform feed cannot connect yet", error=repr(exc))
                await self._close()
                await asyncio.sleep(2)
        consumer = FeedConsumer(
            name=self.settings.platform_feed_name,
            subjects=["edu.>"],
            handler=self.handle,
            parse=parse,
            inbox=None,
            dead_letter=dead_letter,
            sessionmaker=self.sessionmaker,
            js=self.nc.jetstream(),
            settings=self.settings,
        )
        consumer.ready = self.ready
        self.consumer = consumer
        await consumer.run()

    async def _connect_platform(self) -> Client:
        """Connect to the platform broker (TLS with the given CA when the URL says `tls://`)."""
        servers = [u.strip() for u in (self.settings.platform_nats_url or "").split(",") if u.strip()]
        tls = None
        if self.settings.platform_nats_ca_file or any(u.startswith("tls://") for u in servers):
            ca = self.settings.platform_nats_ca_file
            tls = ssl.create_default_context(cafile=str(ca) if ca else None)

        async def _disconnected() -> None:
            log.warning("nats disconnected", client="gateway-platform-publisher")

        return await nats.connect(
            servers,
            name="gateway-platform-publisher",
            tls=tls,
            max_reconnect_attempts=-1,
            reconnect_time_wait=0.5,
            connect_timeout=5,
            disconnected_cb=_disconnected,
        )

    async def handle(self, session: AsyncSession, event: RawEvent) -> None:
        """Publish the platform form of one event and queue it for the webhooks that want it."""
        if is_bulk(event.type):  # an import chunk: the platform sees the one-student events it stands for
            for raw in student_events_raw(event.raw):
                await self.handle(session, RawEvent(id=raw["id"], type=raw["type"], raw=raw))
            return
        form = minimise(event.raw)
        subject = subject_for(event.raw, self.settings.platform_subject_prefix)
        if subject and self.out is not None:
            headers = {"Nats-Msg-Id": event.id, "Nol-Platform-Version": str(PLATFORM_VERSION)}
            await self.out.publish(subject, json.dumps(form, ensure_ascii=False).encode(), headers=headers)
            self.published += 1
            self.last_subject = subject
        await self._queue(session, event, form)

    async def _queue(self, session: AsyncSession, event: RawEvent, form: dict) -> None:
        hooks = session.info.get("platform_webhooks")
        if hooks is None:  # once per transaction (a batch of events)
            stmt = (
                select(Webhook)
                .join(ApiClient, ApiClient.client_id == Webhook.client_id)
                .where(Webhook.disabled.is_(False), ApiClient.disabled.is_(False))
            )
            hooks = session.info["platform_webhooks"] = list((await session.execute(stmt)).scalars())
        rows = [
            {"webhook_id": h.id, "event_id": uuid.UUID(event.id), "event_type": event.type, "payload": form}
            for h in hooks
            if wanted(h, event.raw)
        ]
        if rows:
            await session.execute(
                insert(WebhookDelivery.__table__)
                .values(rows)
                .on_conflict_do_nothing(index_elements=["webhook_id", "event_id"])
            )
            self.wake.set()  # the worker looks again (it finds the rows once this commits)

    # -- webhook deliveries ---------------------------------------------------------------------------

    async def deliver_forever(self) -> None:
        while True:
            stop_if_cancelled()
            try:
                if await self.deliver_due() == 0:
                    self.wake.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self.wake.wait(), timeout=0.5)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("webhook deliveries failed; trying again", error=repr(exc))
                await asyncio.sleep(1)

    async def deliver_due(self, limit: int = 50) -> int:
        """Claim due deliveries (a lease: another gateway skips them), POST them, record the outcome."""
        lease = self.settings.webhook_timeout_seconds + 30
        async with self.sessionmaker() as session, session.begin():
            due = (
                select(WebhookDelivery.id)
                .where(WebhookDelivery.status == "pending", WebhookDelivery.next_attempt_at <= text("now()"))
                .order_by(WebhookDelivery.next_attempt_at, WebhookDelivery.id)
                .limit(limit)
                .with_for_update(skip_locked=True)
            )
            claimed = (
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id.in_(due.scalar_subquery()))
                    .values(next_attempt_at=text(f"now() + interval '{int(lease)} seconds'"))
                    .returning(
                        WebhookDelivery.id,
                        WebhookDelivery.webhook_id,
                        WebhookDelivery.payload,
                        WebhookDelivery.attempts,
                        WebhookDelivery.event_id,
                        WebhookDelivery.event_type,
                    )
                )
            ).all()
            if not claimed:
                return 0
            ids = {row.webhook_id for row in claimed}
            hooks = {
                h.id: h for h in (await session.execute(select(Webhook).where(Webhook.id.in_(ids)))).scalars()
            }
        cipher = id_cipher(self.settings)
        outcomes = await asyncio.gather(
            *(self._post(row, hooks.get(row.webhook_id), cipher) for row in claimed)
        )
        async with self.sessionmaker() as session, session.begin():
            for row, (code, error) in zip(claimed, outcomes, strict=True):
                await session.execute(
                    update(WebhookDelivery)
                    .where(WebhookDelivery.id == row.id)
                    .values(**self._outcome(row.attempts + 1, code, error))
                )
        return len(claimed)

    async def _post(self, row: Any, hook: Webhook | None, cipher: Any) -> tuple[int | None, str | None]:
        if hook is None or hook.disabled:
            return None, "webhook disabled"
        body = json.dumps(row.payload, ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign(cipher.decrypt(hook.secret_enc, SECRET_CONTEXT), stamp, body),
            "X-Nol-Event-Id": str(row.event_id),
            "X-Nol-Event-Type": row.event_type,
            "X-Nol-Delivery": str(row.id),
            "X-Nol-Attempt": str(row.attempts + 1),
        }
        try:
            resp = await self.http.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            return None, f"{type(exc).__name__}: {exc}"[:500]
        if 200 <= resp.status_code < 300:
            return resp.status_code, None
        return resp.status_code, f"HTTP {resp.status_code}: {resp.text[:200]}"

    def _outcome(self, attempts: int, code: int | None, error: str | None) -> dict[str, Any]:
        now = datetime.now(UTC)
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_status_code": code,
            "last_error": error,
            "updated_at": now,
        }
        if error is None:
            return values | {"status": "delivered", "delivered_at": now}
        if attempts >= self.settings.webhook_max_attempts or error == "webhook disabled":
            return values | {"status": "failed"}
        delay = min(
            self.settings.webhook_backoff_seconds * 2 ** (attempts - 1),
            self.settings.webhook_backoff_max_seconds,
        )
        return values | {"next_attempt_at": now + timedelta(seconds=delay)}

    async def _close(self) -> None:
        for client in {id(c): c for c in (self.out, self.nc) if c is not None}.values():
            with contextlib.suppress(Exception):
                await client.flush(timeout=2)  # what was published reaches the broker
            with contextlib.suppress(Exception):
                await client.close()
        self.nc = self.out = None

    async def stop(self) -> None:
        for task in self.tasks:
            task.cancel()
        if self.tasks:  # bounded, like a service's shutdown: a stuck close never holds the gateway
            done, pending = await asyncio.wait(self.tasks, timeout=STOP_SECONDS)
            for task in done:  # retrieved and said, so none is reported as never retrieved
                failed = None if task.cancelled() else task.exception()
                if failed is not None:
                    log.warning("platform feed task failed", task=task.get_name(), error=repr(failed))
            if pending:
                names = [t.get_name() for t in pending]
                log.warning("platform feed tasks still running after stop", tasks=names)
        await self._close()
        await self.http.aclose()
