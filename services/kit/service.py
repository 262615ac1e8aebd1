"""The FastAPI application every service is built from."""

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import structlog
from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import Table, text

from services.kit import nats as kit_nats
from services.kit import rls
from services.kit.app import App
from services.kit.auth import RequireTokenMiddleware, TokenVerifier
from services.kit.barrier import Barrier
from services.kit.conditional import ConditionalMiddleware, gzip
from services.kit.consumer import BatchHandler, Consumer, Handler, Parser
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.docs import install_offline_docs
from services.kit.errors import install_error_handlers
from services.kit.gateway_trust import own_hop_keys
from services.kit.i18n import LanguageMiddleware
from services.kit.listing import Labels, ListingMiddleware
from services.kit.listing import install as install_listing
from services.kit.logging import configure_logging
from services.kit.metrics import install_telemetry, service_sources
from services.kit.middleware import (
    EventPositionMiddleware,
    RejectNulMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from services.kit.openapi import (
    describe_enums,
    hoist_inline_models,
    openapi_of,
    operation_id,
    unique_titles,
)
from services.kit.ops import degradations, ops_router
from services.kit.relay import Relay
from services.kit.responses import document_errors
from services.kit.revocation import RevocationList, http_source
from services.kit.settings import Settings, get_settings
from services.kit.tracing import FASTAPI_TELEMETRY_OFF

log = structlog.get_logger()
SHUTDOWN_SECONDS = 3.0  # each step of stopping may take this long, then the process goes on exiting
BULK_BATCH = 2  # messages per transaction of a bulk consumer (each carries hundreds of entities)


@dataclass
class Subscription:
    """A durable consumer a service runs: its name, subjects and handler.

    A bulk subscription (`part_of` another: the projection it also feeds) has its own durable
    consumer, so a chunk of bulk work never waits in front of everyday events; it fetches few
    messages at a time (`batch`: each carries many entities) and is replayed with the one it is
    part of (a rebuild clears their common projection).
    """

    name: str
    subjects: list[str]
    handler: Handler
    batch: int = 200  # messages applied per transaction
    part_of: str | None = None
    # Applies a fetched batch set-wise instead of `handler` event by event (kit.consumer.BatchHandler).
    batch_handler: BatchHandler | None = None

    def bulk(self, subjects: list[str], handler: Handler) -> "Subscription":
        """The bulk lane of this subscription: `<name>-bulk`, part of this one, few messages a batch."""
        return Subscription(f"{self.name}-bulk", subjects, handler, batch=BULK_BATCH, part_of=self.name)


@dataclass
class ServiceSpec:
    name: str
    title: str
    description: str
    routers: Sequence[APIRouter]
    outbox: Table
    inbox: Table
    dead_letter: Table  # where its consumers keep the events they gave up on (kit.ops)
    subscriptions: Sequence[Subscription] = field(default_factory=list)
    # Reads a raw event into the typed model its handlers take (the contracts' `events.parse`).
    parse: Parser | None = None
    openapi_tags: list[dict] | None = None
    # Column headers and value labels of the service's printed lists (kit.listing, `format=csv|xlsx`).
    list_labels: Labels | None = None
    # Long-running jobs counted by status on /metrics (`nol_jobs{kind,status}`): kind → table with `status`.
    jobs: dict[str, Table] = field(default_factory=dict)
    # PostgreSQL settings of the service's connections (kit.db.make_engine), e.g. memory for its aggregates.
    db_settings: dict[str, str] = field(default_factory=dict)


async def _run_events(app: FastAPI, spec: ServiceSpec, settings: Settings) -> None:
    """Connect to NATS (retrying), then run the relay and consumers."""
    while True:
        try:
            nc = await kit_nats.connect(settings, name=f"{spec.name}-{id(app)}")
            js = nc.jetstream()
            await kit_nats.ensure_stream(js, settings)
            break
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("nats not reachable; retrying", service=spec.name, error=repr(exc))
            await asyncio.sleep(1)
    app.state.nats = nc
    app.state.js = js
    tasks = []
    if settings.relay_in_process:
        app.state.relay = Relay(
            engine=app.state.engine, outbox=spec.outbox, js=js, settings=settings, service=spec.name
        )
        await app.state.relay.serve_flush(nc)
        tasks.append(asyncio.create_task(app.state.relay.run()))
    app.state.barrier = Barrier(
        nc=nc,
        js=js,
        settings=settings,
        projects=projections(spec.subscriptions),
        subjects={sub.name: list(sub.subjects) for sub in spec.subscriptions},
    )
    app.state.consumers = {}
    for sub in spec.subscriptions:
        consumer = Consumer(
            name=sub.name,
            subjects=sub.subjects,
            handler=sub.handler,
            parse=spec.parse,
            inbox=spec.inbox,
            sessionmaker=app.state.sessionmaker,
            js=js,
            settings=settings,
            dead_letter=spec.dead_letter,
            batch=sub.batch,
            batch_handler=sub.batch_handler,
        )
        app.state.consumers[sub.name] = (consumer, asyncio.create_task(consumer.run()))
    try:
        await asyncio.gather(*tasks)
        await asyncio.Event().wait()  # consumers run (and may be replaced by replay) until shutdown
    finally:
        everything = tasks + [task for _, task in app.state.consumers.values()]
        for t in everything:
            t.cancel()
        # Bounded: with the broker or the database already gone (the whole stack killed), a task or
        # the client's close must not keep the process from exiting.
        if everything:
            await asyncio.wait(everything, timeout=SHUTDOWN_SECONDS)
        with contextlib.suppress(Exception):
            # not drain(): pull subscriptions can hold drain for its whole timeout
            await asyncio.wait_for(nc.close(), SHUTDOWN_SECONDS)


def projections(subscriptions: Sequence[Subscription]) -> dict[str, set[str]]:
    """Map each consumer to the services whose events it projects (`edu.<service>.…` subjects)."""
    return {sub.name: {subject.split(".")[1] for subject in sub.subjects} for sub in subscriptions}


def create_service_app(spec: ServiceSpec, settings: Settings | None = None) -> FastAPI:
    """Build a service app: engine, events, token verification, errors, health."""
    settings = settings or get_settings()
    # Now, not in the lifespan: uvicorn's own start-up lines come before it and must be JSON too.
    configure_logging(settings.log_level, json=settings.log_json)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.engine = make_engine(
            service_url(settings, spec.name),
            pool_size=settings.db_pool_size,
            application_name=f"nol-{spec.name}",
            server_settings=spec.db_settings,
        )
        app.state.sessionmaker = sessionmaker_for(app.state.engine)
        revocations = RevocationList(
            http_source(settings.revocations_url), max_age=settings.revocation_poll_seconds
        )
        app.state.verifier = TokenVerifier(settings, revocations=revocations)
        # The keys of the gateway's request MACs (kit.auth): a bad NOL_HOP_KEY stops the start.
        app.state.hop_keys = own_hop_keys(settings, spec.name)
        app.state.nats = None
        app.state.barrier = None
        events = rls.system_task(_run_events(app, spec, settings))  # consumers, relay: every row
        try:
            yield
        finally:
            events.cancel()
            await asyncio.wait([events], timeout=2 * SHUTDOWN_SECONDS)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(app.state.engine.dispose(), SHUTDOWN_SECONDS)

    app = App(  # kit.app: an error already answered does not close the connection
        title=spec.title,
        description=spec.description,
        version="1.0.0",
        lifespan=lifespan,
        openapi_tags=spec.openapi_tags,
        docs_url=None,  # served with local assets below (kit.docs): no CDN on an intranet
        redoc_url=None,
        generate_unique_id_function=operation_id,
        telemetry=FASTAPI_TELEMETRY_OFF,  # kit.metrics traces each request (kit.tracing says why)
    )
    app.state.settings = settings
    app.state.service = spec.name
    app.state.spec = spec
    install_error_handlers(app)
    install_listing(spec.routers)  # format=, sort=, count=, fields=, unknown parameters → 422
    for router in spec.routers:
        app.include_router(router)
    app.include_router(health_router())
    app.include_router(ops_router())
    install_offline_docs(app, title=spec.title)

    def openapi() -> dict:
        if app.openapi_schema is None:
            doc = openapi_of(app, lambda: FastAPI.openapi(app))  # readable, unique operation ids
            doc = hoist_inline_models(document_errors(doc))
            app.openapi_schema = describe_enums(unique_titles(doc))
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    app.add_middleware(ListingMiddleware, labels=spec.list_labels)
    app.add_middleware(ConditionalMiddleware)  # ETag, 304, If-Match → 412 (kit.conditional)
    app.add_middleware(EventPositionMiddleware, service=spec.name)
    app.add_middleware(RequireTokenMiddleware)
    app.add_middleware(RejectNulMiddleware)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(gzip)  # above 1 KB
    # Access log, latency histogram, request span, GET /metrics (kit.metrics).
    sources = service_sources(outbox=spec.outbox, dead_letter=spec.dead_letter, jobs=spec.jobs)
    install_telemetry(app, spec.name, sources=sources)
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(LanguageMiddleware)  # problems in Chinese unless Accept-Language asks for en
    return app


def health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", include_in_schema=False)
    async def healthz() -> dict:
        return {"status": "ok"}

    @router.get("/readyz", include_in_schema=False)
    async def readyz(request: Request) -> JSONResponse:
        checks = {"database": False, "broker": False}
        try:
            async with request.app.state.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = True
        except Exception as exc:
            log.warning("readiness: database", error=repr(exc))
        nc = request.app.state.nats
        checks["broker"] = bool(nc is not None and nc.is_connected)
        if not all(checks.values()):
            down = [f"{name} unreachable" for name, up in checks.items() if not up]
            return JSONResponse({"status": "unavailable", "reasons": down, "checks": checks}, status_code=503)
        # Up, but maybe not keeping up: open dead letters or a lagging consumer (kit.ops).
        try:
            reasons, figures = await degradations(request.app)
        except Exception as exc:
            log.warning("readiness: consumers", error=repr(exc))
            reasons, figures = [f"consumer state unknown: {type(exc).__name__}"], {}
        # Degraded answers 503 (API.md: Ops): serving still works, but what is decided from the
        # projections may lack an event until the letter is replayed or the lag is gone.
        status = "degraded" if reasons else "ok"
        body = {"status": status, "reasons": reasons, "checks": {**checks, **figures}}
        return JSONResponse(body, status_code=503 if reasons else 200)

    return router


async def replay(app: FastAPI, name: str, *, clear) -> None:
    """Rebuild a projection: stop its consumers, clear it and their inbox rows, replay from the start.

    The consumers are `name` and every subscription `part_of` it (its bulk twin): both feed the
    projection cleared.
    """
    from nats.js.errors import NotFoundError
    from sqlalchemy import delete

    if getattr(app.state, "js", None) is None or name not in app.state.consumers:
        from services.kit.errors import Unavailable

        raise Unavailable("The event stream is not connected yet; try again shortly")
    spec = getattr(app.state, "spec", None)
    twins = [s.name for s in (spec.subscriptions if spec else []) if s.part_of == name]
    names = [name, *(n for n in twins if n in app.state.consumers)]
    for each in names:
        _, task = app.state.consumers[each]
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        with contextlib.suppress(NotFoundError):
            await app.state.js.delete_consumer(app.state.settings.stream, each)
    # A rebuild is the service's own work on every row, whoever asked for it (kit.rls).
    with rls.acting_as(rls.SYSTEM):
        async with app.state.sessionmaker() as session, session.begin():
            await clear(session)
            inbox = app.state.consumers[name][0].inbox
            await session.execute(delete(inbox).where(inbox.c.consumer.in_(names)))
    for each in names:
        consumer, _ = app.state.consumers[each]
        app.state.consumers[each] = (consumer, rls.system_task(consumer.run()))
