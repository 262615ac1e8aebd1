"""ASGI middleware shared by the gateway and the services."""

import re
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import database_unavailable, unavailable_response

_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class EventPositionMiddleware:
    """Answer a write with `X-Event-Position: <service>:<outbox position>` of the events it recorded.

    A client that wants a later read to reflect that write passes it back as `min_position=`
    (kit.barrier); the session dependency leaves the position in the request's state after commit.
    """

    def __init__(self, app: ASGIApp, service: str):
        self.app, self.service = app, service

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        state = scope.setdefault("state", {})

        async def _send(message: Message) -> None:
            position = state.get("event_position")
            if message["type"] == "http.response.start" and position:
                header = f"{self.service}:{position}".encode()
                message["headers"] = [*message.get("headers", []), (b"x-event-position", header)]
            await send(message)

        await self.app(scope, receive, _send)


class RequestIdMiddleware:
    """Echo a client's `X-Request-ID` (or make one) on every response and in the logs."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                given = value.decode("latin-1")
                break
        request_id = given if given and _SAFE_ID.match(given) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.bind_contextvars(request_id=request_id)

        started = False

        async def _send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = [(k, v) for k, v in message.get("headers", []) if k != b"x-request-id"]
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, _send)
        except Exception as exc:
            # The database down (a restart, a failover) is a clean 503 to retry, not an error that
            # makes the server drop the connection after the error handler has answered.
            if started or not database_unavailable(exc):
                raise
            structlog.get_logger().warning("database unavailable", path=scope["path"], error=repr(exc)[:200])
            await unavailable_response()(scope, receive, _send)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")


SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]


class SecurityHeadersMiddleware:
    """Add conservative security headers to API responses."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def _send(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {k for k, _ in message.get("headers", [])}
                message["headers"] = list(message.get("headers", [])) + [
                    h for h in SECURITY_HEADERS if h[0] not in present
                ]
            await send(message)

        await self.app(scope, receive, _send)


class RejectNulMiddleware:
    """Refuse NUL bytes in the path or query string (PostgreSQL text cannot hold them)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            qs = scope.get("query_string", b"")
            if "\x00" in scope.get("path", "") or b"%00" in qs or b"\x00" in qs:
                from services.kit.errors import problem

                response = problem(
                    422,
                    "NUL characters are not allowed in the path or query",
                    code="invalid",
                    errors=[{"loc": ["query"], "msg": "NUL character", "code": "nul"}],
                )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
