"""Prometheus metrics, the access log and the request span: one pure-ASGI middleware and `GET /metrics`.

Every HTTP process (the gateway and each service) answers `GET /metrics` in the Prometheus text
format: `http_request_duration_seconds` (histogram by method, route template and status) and
`http_requests_in_flight`; a service adds, computed when scraped (cached for `CACHE_SECONDS`):

- `nol_outbox_unpublished`, `nol_outbox_oldest_unpublished_seconds`: events not yet on the stream;
- `nol_consumer_pending`, `nol_consumer_unacknowledged`, `nol_consumer_redelivered`: its durable
  consumers as the broker sees them, and `nol_consumer_lag_seconds`, the age of the oldest event a
  consumer has not yet acknowledged (0 when caught up);
- `nol_consumer_events_applied_total`, `nol_consumer_events_dead_lettered_total` (this process);
- `nol_dead_letters_open`: dead letters waiting for a replay or a resolution;
- `nol_jobs{kind,status}`: long-running jobs (imports, verifications) by status.

Who may scrape: a caller on the loopback interface, a bearer of `NOL_METRICS_TOKEN` when it is set,
or an admin's access token; anyone else 401/403.
"""

import asyncio
import hmac
import ipaddress
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter, Request
from fastapi.responses import Response
from opentelemetry.trace import SpanKind, Status, StatusCode
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from sqlalchemy import Table, func, select
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit import rls, tracing
from services.kit.errors import Forbidden, Unauthorized

log = structlog.get_logger()
access_log = structlog.get_logger("access")
CACHE_SECONDS = 0.25  # a scrape storm costs at most 4 refreshes a second
SOURCE_TIMEOUT = 3.0
QUIET = frozenset({"/metrics", "/healthz", "/readyz"})  # probes: access-logged at debug only

Family = GaugeMetricFamily | CounterMetricFamily
Source = Callable[[Any], Awaitable[Iterable[Family]]]


@dataclass
class Telemetry:
    """One process's metrics: the request histogram plus families computed on scrape from `sources`."""

    service: str
    sources: list[Source] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.latency = Histogram(
            "http_request_duration_seconds",
            "Time to answer a request, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.in_flight = Gauge("http_requests_in_flight", "Requests being answered", registry=self.registry)
        self.latency.labels("GET", "/metrics", "200")  # the family shows its buckets from the start
        self._families: list[Family] = []
        self._at = 0.0
        self._lock = asyncio.Lock()
        self.registry.register(_Snapshot(self))

    async def refresh(self, app: Any) -> None:
        """Recompute the scrape-time families unless they are fresh (one refresh at a time)."""
        async with self._lock:
            if time.monotonic() - self._at < CACHE_SECONDS:
                return
            families: list[Family] = []
            for source in self.sources:
                try:
                    families.extend(await asyncio.wait_for(source(app), SOURCE_TIMEOUT))
                except Exception as exc:  # one source down (the broker, the database) hides only its figures
                    log.warning(
                        "metrics source failed",
                        source=getattr(source, "__name__", "?"),
                        error=repr(exc)[:200],
                    )
            self._families, self._at = families, time.monotonic()

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Snapshot(Collector):
    def __init__(self, telemetry: Telemetry):
        self.telemetry = telemetry

    def collect(self) -> Iterable[Family]:
        return list(self.telemetry._families)

    def describe(self) -> Iterable[Family]:
        return []


def _route_of(scope: Scope) -> str:
    """The route template that served a request (`/api/v1/students/{student_id}`), else `unmatched`."""
    route = scope.get("route")
    if route is None:  # a middleware passed a copy of the scope on: match it again here
        for candidate in getattr(getattr(scope.get("app"), "router", None), "routes", ()):
            try:
                if candidate.matches(scope)[0] is Match.FULL:
                    route = candidate
                    break
            except Exception:  # noqa: S112 - a route that cannot judge this scope is not it
                continue
    return getattr(route, "path", None) or "unmatched"


class TelemetryMiddleware:
    """Time each request, count it by route template and status, trace it and write its access line.

    The span continues the caller's W3C `traceparent` (the gateway's, for a service); the response
    names the trace in `traceresponse`. The access line holds the method, the route template (never
    the path or query, which may hold an ID number), status, duration, request id, trace id, the
    caller's principal id and address — no token, no body.
    """

    def __init__(self, app: ASGIApp, *, telemetry: Telemetry):
        self.app, self.telemetry = app, telemetry

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})  # shared with inner middleware: the principal lands here
        carrier = {}
        for key, value in scope.get("headers", ()):
            if key in (b"traceparent", b"tracestate"):
                carrier[key.decode()] = value.decode("latin-1")
        method = scope["method"]
        status = 500
        started = time.perf_counter()
        self.telemetry.in_flight.inc()
        with tracing.span(method, carrier=carrier, kind=SpanKind.SERVER) as span:
            parent = tracing.traceparent(span)

            async def _send(message: Message) -> None:
                nonlocal status
                if message["type"] == "http.response.start":
                    status = message["status"]
                    if parent:  # ours replaces one an upstream answered with (the gateway's proxy)
                        headers = [(k, v) for k, v in message.get("headers", []) if k != b"traceresponse"]
                        headers.append((b"traceresponse", parent.encode()))
                        message["headers"] = headers
                await send(message)

            try:
                await self.app(scope, receive, _send)
            finally:
                elapsed = time.perf_counter() - started
                self.telemetry.in_flight.dec()
                route = _route_of(scope)
                self.telemetry.latency.labels(method, route, str(status)).observe(elapsed)
                span.update_name(f"{method} {route}")
                span.set_attribute("http.request.method", method)
                span.set_attribute("http.route", route)
                span.set_attribute("http.response.status_code", status)
                if status >= 500:
                    span.set_status(Status(StatusCode.ERROR))
                principal = state.get("principal")
                line = access_log.debug if route in QUIET else access_log.info
                line(
                    "access",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(elapsed * 1000, 2),
                    principal=getattr(principal, "sub", None),
                    client=(scope.get("client") or ("-", 0))[0],
                )


def _loopback(scope: Scope) -> bool:
    try:
        return ipaddress.ip_address((scope.get("client") or ("", 0))[0]).is_loopback
    except ValueError:
        return False


async def authorize_scrape(request: Request) -> None:
    """Admit a scrape from loopback, with NOL_METRICS_TOKEN, or with an admin's access token."""
    if _loopback(request.scope):
        return
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("Metrics need NOL_METRICS_TOKEN or an admin's token")
    expected = request.app.state.settings.metrics_token
    if expected and hmac.compare_digest(token.encode(), expected.encode()):
        return
    from services.kit.auth import Role, principal_from_claims

    principal = principal_from_claims(await request.app.state.verifier.verify(token))
    if principal.role is not Role.admin:
        raise Forbidden("Only an admin (or the metrics token) may read metrics")


def metrics_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/metrics", include_in_schema=False)
    async def metrics(request: Request) -> Response:
        await authorize_scrape(request)
        telemetry: Telemetry = request.app.state.telemetry
        await telemetry.refresh(request.app)
        return Response(telemetry.render(), media_type=CONTENT_TYPE_LATEST)

    return router


def install_telemetry(app: Any, service: str, *, sources: Iterable[Source] = ()) -> Telemetry:
    """Give an app `/metrics` and the telemetry middleware (call where it belongs in the middleware order)."""
    tracing.configure_tracing(service)
    telemetry = Telemetry(service, list(sources))
    app.state.telemetry = telemetry
    app.include_router(metrics_router())
    app.add_middleware(TelemetryMiddleware, telemetry=telemetry)
    return telemetry


# Scrape-time sources of a service (kit.service wires them) -------------------------------------


def outbox_source(outbox: Table) -> Source:
    async def outbox_backlog(app: Any) -> Iterable[Family]:
        query = select(func.count(), func.min(outbox.c.created_at)).where(outbox.c.published_at.is_(None))
        async with app.state.sessionmaker() as session:
            count, oldest = (await session.execute(query)).one()
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest else 0.0
        backlog = GaugeMetricFamily("nol_outbox_unpublished", "Outbox events not yet on the stream")
        backlog.add_metric([], count)
        old = GaugeMetricFamily("nol_outbox_oldest_unpublished_seconds", "Age of the oldest of them")
        old.add_metric([], max(age, 0.0))
        return [backlog, old]

    return outbox_backlog


async def _oldest_unacked(js: Any, stream: str, floor: int, subjects: list[str]) -> float | None:
    """Return the time (unix) of the oldest event on the consumer's subjects after its ack floor."""
    oldest = None
    for subject in subjects:
        try:
            msg = await js.get_msg(stream, seq=floor + 1, subject=subject, next=True)
        except Exception:  # noqa: S112 - nothing on that subject past the floor
            continue
        when = _msg_time(msg)
        if when is not None and (oldest is None or when < oldest):
            oldest = when
    return oldest


def _msg_time(msg: Any) -> float | None:
    raw = getattr(msg, "time", None)
    if isinstance(raw, datetime):
        return (raw if raw.tzinfo else raw.replace(tzinfo=UTC)).timestamp()
    return None


async def consumers_source(app: Any) -> Iterable[Family]:
    """The service's durable consumers, from the broker's consumer info and this process's counts."""
    labels = ["consumer"]
    pending = GaugeMetricFamily(
        "nol_consumer_pending", "Events on the stream not yet delivered", labels=labels
    )
    unacked = GaugeMetricFamily(
        "nol_consumer_unacknowledged", "Delivered, not yet acknowledged", labels=labels
    )
    redelivered = GaugeMetricFamily(
        "nol_consumer_redelivered", "Delivered more than once, not yet acked", labels=labels
    )
    lag = GaugeMetricFamily(
        "nol_consumer_lag_seconds",
        "Age of the oldest event not yet acknowledged (0: caught up)",
        labels=labels,
    )
    applied = CounterMetricFamily(
        "nol_consumer_events_applied", "Events applied by this process", labels=labels
    )
    lettered = CounterMetricFamily(
        "nol_consumer_events_dead_lettered", "Events this process gave up on", labels=labels
    )
    consumers: Mapping[str, tuple[Any, Any]] = getattr(app.state, "consumers", None) or {}
    js, nc = getattr(app.state, "js", None), getattr(app.state, "nats", None)
    stream = app.state.settings.stream
    for name, (consumer, _task) in consumers.items():
        applied.add_metric([name], consumer.applied)
        lettered.add_metric([name], consumer.dead_lettered)
        if js is None or nc is None or not nc.is_connected:
            continue
        try:
            info = await asyncio.wait_for(js.consumer_info(stream, name), SOURCE_TIMEOUT)
        except Exception as exc:  # being created or recreated by a replay
            log.info("metrics: consumer info unavailable", consumer=name, error=repr(exc)[:200])
            continue
        waiting, in_flight = info.num_pending or 0, info.num_ack_pending or 0
        pending.add_metric([name], waiting)
        unacked.add_metric([name], in_flight)
        redelivered.add_metric([name], info.num_redelivered or 0)
        age = 0.0
        if waiting + in_flight:
            floor = info.ack_floor.stream_seq if info.ack_floor else 0
            oldest = await _oldest_unacked(js, stream, floor or 0, list(consumer.subjects))
            age = max(0.0, time.time() - oldest) if oldest is not None else 0.0
        lag.add_metric([name], age)
    return [pending, unacked, redelivered, lag, applied, lettered]


def dead_letters_source(dead_letter: Table) -> Source:
    async def dead_letters(app: Any) -> Iterable[Family]:
        query = (
            select(dead_letter.c.consumer, func.count())
            .where(dead_letter.c.status == "open")
            .group_by(dead_letter.c.consumer)
        )
        async with app.state.sessionmaker() as session:
            counts = dict((await session.execute(query)).all())
        for name in getattr(app.state, "consumers", None) or {}:
            counts.setdefault(name, 0)
        family = GaugeMetricFamily(
            "nol_dead_letters_open", "Dead letters open (not replayed or resolved)", labels=["consumer"]
        )
        for name, count in sorted(counts.items()):
            family.add_metric([name], count)
        return [family]

    return dead_letters


def jobs_source(jobs: Mapping[str, Table]) -> Source:
    """Jobs by status (`kind` → a table with a `status` column), counted across every scope."""

    async def jobs_by_status(app: Any) -> Iterable[Family]:
        family = GaugeMetricFamily(
            "nol_jobs", "Long-running jobs by kind and status", labels=["kind", "status"]
        )
        with rls.acting_as(rls.SYSTEM):
            async with app.state.sessionmaker() as session, session.begin():
                for kind, table in jobs.items():
                    query = select(table.c.status, func.count()).group_by(table.c.status)
                    for status, count in (await session.execute(query)).all():
                        family.add_metric([kind, str(status)], count)
        return [family]

    return jobs_by_status


def service_sources(*, outbox: Table, dead_letter: Table, jobs: Mapping[str, Table]) -> list[Source]:
    """Return the scrape-time sources every service has (its outbox, consumers, dead letters, jobs)."""
    sources = [outbox_source(outbox), consumers_source, dead_letters_source(dead_letter)]
    if jobs:
        sources.append(jobs_source(jobs))
    return sources
