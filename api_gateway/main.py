"""The gateway app. Run with `uvicorn api_gateway.main:create_app --factory`."""

import contextlib
import logging
from collections.abc import AsyncIterator
from datetime import timedelta

import anyio.to_thread
import structlog
from fastapi import FastAPI
from starlette.middleware.cors import CORSMiddleware

from api_gateway.audit.middleware import AuditMiddleware
from api_gateway.audit.routes import router as audit_router
from api_gateway.auth.revocations import database_source
from api_gateway.auth.routes import router as auth_router
from api_gateway.auth.routes import wellknown
from api_gateway.authn import AuthenticateMiddleware
from api_gateway.bodylimit import BodyLimitMiddleware
from api_gateway.clients.routes import router as clients_router
from api_gateway.health import router as health_router
from api_gateway.idempotency.middleware import IdempotencyMiddleware
from api_gateway.keys import load_keyring
from api_gateway.meta import router as meta_router
from api_gateway.openapi_merge import install_docs
from api_gateway.ops import router as ops_router
from api_gateway.platform.feed import PlatformFeed
from api_gateway.platform.routes import router as platform_router
from api_gateway.proxy import ProxyDispatch, Upstream, make_http_client, proxy_routes
from api_gateway.ratelimit import ClientAddressMiddleware, RateLimitMiddleware
from api_gateway.routing import API, service_for
from api_gateway.tasks import router as tasks_router
from api_gateway.users.routes import router as users_router
from api_gateway.users.service import bootstrap_admin
from services.kit.app import App
from services.kit.auth import TokenVerifier
from services.kit.conditional import ConditionalMiddleware, gzip
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.errors import install_error_handlers
from services.kit.i18n import LanguageMiddleware
from services.kit.logging import configure_logging
from services.kit.metrics import install_telemetry
from services.kit.middleware import (
    RejectNulMiddleware,
    RequestIdMiddleware,
    SecurityHeadersMiddleware,
)
from services.kit.openapi import operation_id
from services.kit.revocation import RevocationList
from services.kit.settings import Settings, get_settings
from services.kit.tracing import FASTAPI_TELEMETRY_OFF

log = structlog.get_logger()

DESCRIPTION = """\
The notoneless (一个不少) API: one entry point for the registry, subsidies,
dropout monitoring and statistics.

Authenticate with `POST /api/v1/auth/token` and send `Authorization: Bearer <token>`.
Errors are `application/problem+json`; lists are `{"items": [...], "next_cursor"}`
(`?limit=` up to 500, `?cursor=`); every POST takes an `Idempotency-Key` header (kept 7 days);
PATCH needs the current `version` (or `If-Match`: the version, or the `ETag` of a GET, 412 when stale).
GETs carry an `ETag` (`If-None-Match` → 304); answers above 1 KB are gzipped on `Accept-Encoding: gzip`.
Errors speak Chinese (`Accept-Language: zh-CN`, the default) or English (`Accept-Language: en`).
Every code's Chinese label: `GET /api/v1/meta/labels` and `x-enum-labels` in this document.
"""

TAGS = [
    {"name": "auth", "description": "Tokens, refresh, the caller, public keys."},
    {"name": "users", "description": "People who log in, managed within an area."},
    {"name": "clients", "description": "Machine clients of the poverty platform."},
    {"name": "audit", "description": "Who wrote or revealed what, and when."},
    {"name": "meta", "description": "Labels of every code (Chinese and English), for clients."},
]


def _lifespan(settings: Settings):
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # One line per proxied request from httpx would double the access log.
        logging.getLogger("httpx").setLevel(logging.WARNING)
        keyring = await anyio.to_thread.run_sync(load_keyring, settings)
        app.state.keyring = keyring
        app.state.engine = make_engine(
            service_url(settings, "gateway"), pool_size=settings.db_pool_size, application_name="nol-gateway"
        )
        app.state.sessionmaker = sessionmaker_for(app.state.engine, walled=False)  # no walled tables
        revoked = database_source(
            app.state.sessionmaker, token_lifetime=timedelta(minutes=settings.access_token_minutes)
        )
        app.state.verifier = TokenVerifier(
            settings,
            keys=keyring.jwks(),
            revocations=RevocationList(revoked, max_age=settings.revocation_poll_seconds),
        )
        app.state.http = make_http_client(settings)  # the gateway's own calls to the services
        app.state.upstream = Upstream(settings)  # forwarded requests (proxy)
        try:
            async with app.state.sessionmaker() as session:
                await bootstrap_admin(session, settings)
                await session.commit()
            # The minimised event feed to the platform, its NATS users, webhook deliveries.
            app.state.platform_feed = PlatformFeed(settings, app.state.sessionmaker)
            await app.state.platform_feed.start()
            yield
        finally:
            if getattr(app.state, "platform_feed", None) is not None:
                await app.state.platform_feed.stop()
            await app.state.http.aclose()
            await app.state.upstream.aclose()
            await app.state.engine.dispose()

    return lifespan


def create_app(settings: Settings | None = None) -> FastAPI:
    """Build the gateway app (the engine, keys and HTTP client are made in its lifespan)."""
    settings = settings or get_settings()
    # Now, not in the lifespan: uvicorn's own start-up lines come before it and must be JSON too.
    configure_logging(settings.log_level, json=settings.log_json)
    app = App(  # kit.app: an error already answered does not close the connection
        title="notoneless API",
        description=DESCRIPTION,
        version="1.0.0",
        lifespan=_lifespan(settings),
        openapi_tags=TAGS,
        # Served by install_docs: the document merges the services' own, fetched over HTTP.
        openapi_url=None,
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=operation_id,  # readable: `auth_token`, `list_users`
        telemetry=FASTAPI_TELEMETRY_OFF,  # kit.metrics traces each request (kit.tracing says why)
    )
    app.state.settings = settings
    install_error_handlers(app)
    own_routers = (
        wellknown,
        health_router,
        auth_router,
        users_router,
        clients_router,
        platform_router,
        audit_router,
        tasks_router,
        ops_router,
        meta_router,
    )
    for router in own_routers:
        app.include_router(router)
    install_docs(app, settings)
    app.router.routes.extend(proxy_routes())

    # Added innermost first: the request meets them in the reverse order.
    # Forwarded paths go from here to the proxy, past the router (the rest on to the router).
    app.add_middleware(ProxyDispatch, own=[route for router in own_routers for route in router.routes])
    # ETag, 304 and If-Match on the gateway's own resources (the services do their own).
    app.add_middleware(ConditionalMiddleware, applies=_own_resource)
    app.add_middleware(AuditMiddleware)
    app.add_middleware(IdempotencyMiddleware, abandon_after=settings.upstream_timeout_seconds + 60)
    app.add_middleware(RateLimitMiddleware, per_minute=settings.rate_limit_per_minute)
    app.add_middleware(AuthenticateMiddleware)
    uploads = {
        "/api/v1/imports": settings.upload_limit_bytes,
        "/api/v1/verifications": settings.upload_limit_bytes,
        "/api/v1/dropout/rosters": settings.upload_limit_bytes,
        "/api/v1/evidence": settings.upload_limit_bytes,
    }
    app.add_middleware(BodyLimitMiddleware, limit=settings.body_limit_bytes, larger=uploads)
    app.add_middleware(RejectNulMiddleware)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["*"],
            allow_headers=["*"],
            max_age=600,
            expose_headers=["X-Request-ID", "Retry-After", "Idempotent-Replayed", "ETag", "Content-Language"],
        )
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(gzip)  # above 1 KB; the services answer the gateway uncompressed (proxy)
    # Access log, latency histogram, the request's span (continued by the services), GET /metrics.
    install_telemetry(app, "gateway")
    app.add_middleware(RequestIdMiddleware)
    app.add_middleware(ClientAddressMiddleware, trusted_proxies=settings.trusted_proxies)
    app.add_middleware(LanguageMiddleware)  # problems in Chinese unless Accept-Language asks for en
    return app


def _own_resource(path: str) -> bool:
    """Whether the gateway itself answers a path (not forwarded to a service)."""
    return path.startswith(API + "/") and (service_for(path) is None or path.startswith(API + "/tasks"))
