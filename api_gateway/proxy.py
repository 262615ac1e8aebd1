"""Forward `/api/v1/...` to the owning service over one pooled aiohttp session, streaming both ways.

The transport is aiohttp's connection pool and C parser used directly (httpx over httpcore spent about
a third of the gateway's CPU scanning its pool). The path and query go out byte for byte as the client
sent them (`URL(..., encoded=True)`): the gateway's signature covers them (kit.gateway_trust) and the
service verifies exactly what arrives. Failures are mapped here: the service unreachable (refused,
no connection in time) is 503, no answer in time 504, a broken or cut-off answer 502.

Forwarded paths do not go through the router: `ProxyDispatch`, the innermost middleware, sends them
to the proxy directly (the routes below stay for the route template in metrics and for 405s).
"""

from collections.abc import AsyncIterator, Iterable

import aiohttp
import httpx
import structlog
from starlette.background import BackgroundTask
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import BaseRoute, Match, Route
from starlette.types import ASGIApp, Receive, Scope, Send
from yarl import URL

from api_gateway.routing import API, LINKS, ROUTES, check_route_access, link_service_for, service_for
from services.kit import tracing
from services.kit.errors import AppError, NotFound, Unauthorized, Unavailable, problem
from services.kit.gateway_trust import HEADER, hop_key, sign_mac
from services.kit.settings import SERVICES, Settings
from services.kit.tracing import httpx_hook

log = structlog.get_logger()
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
_METHODS = frozenset(METHODS)
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "proxy-connection",
    }
)
# Set again by this hop (host, length of what we send, our own request id and server headers).
# Accept-Encoding too: a service answers the gateway uncompressed (stored for idempotent replays,
# audited as it is), and the gateway compresses for the client (kit.conditional.gzip). The trace
# headers are this hop's own (the request's span, kit.metrics), never the client's.
NOT_FORWARDED = HOP_BY_HOP | {
    "host",
    "x-request-id",
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "accept-encoding",
    "traceparent",
    "tracestate",
    HEADER,
}
NOT_RETURNED = HOP_BY_HOP | {"x-request-id", "date", "server"}
_NOT_FORWARDED = frozenset(n.encode() for n in NOT_FORWARDED)
_NOT_RETURNED = frozenset(n.encode() for n in NOT_RETURNED)
# Answers with a Content-Length up to this size are read whole, larger ones stream.
BUFFER_UP_TO = 1024 * 1024
# Methods aiohttp sends a `Content-Length: 0` with when there is no body: set (and signed) here.
_EMPTY_BODY_LENGTH = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BadGateway(AppError):
    status, code = 502, "bad_gateway"


class GatewayTimeout(AppError):
    status, code = 504, "gateway_timeout"


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """Build the pooled httpx client of the gateway's own calls to the services (readiness, tasks, docs)."""
    timeout = settings.upstream_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20, keepalive_expiry=4.0),
        follow_redirects=False,
        trust_env=False,
        # Each call carries the current trace (`traceparent`), the client's own header replaced.
        event_hooks={"request": [httpx_hook]},
    )


class Upstream:
    """The one pooled aiohttp session every forwarded request shares (made on first use, in the loop)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._session: aiohttp.ClientSession | None = None
        # The key each service's requests are MACed with (kit.gateway_trust v2): a bad NOL_HOP_SECRET
        # stops the start, not every request.
        self.hop_keys = {service: hop_key(settings, service) for service in SERVICES}

    def session(self) -> aiohttp.ClientSession:
        if self._session is None:
            timeout = self.settings.upstream_timeout_seconds
            connector = aiohttp.TCPConnector(
                limit=200,
                limit_per_host=0,
                # Idle connections go before the services' own keep-alive timeout (uvicorn: 5 s)
                # closes them: reusing one the service is closing fails the request after a quiet spell.
                keepalive_timeout=4.0,
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # `sock_read`: the longest silence while waiting for or reading the answer.
                timeout=aiohttp.ClientTimeout(total=None, connect=min(5.0, timeout), sock_read=timeout),
                cookie_jar=aiohttp.DummyCookieJar(),  # one session for every caller: never keep cookies
                auto_decompress=False,  # bytes as the service sent them
                skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
                trust_env=False,
                raise_for_status=False,
                max_line_size=65536,
                max_field_size=65536,  # long headers of a service are its own
            )
        return self._session

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _without_connection_listed(headers, drop: frozenset[str]) -> list[tuple[bytes, bytes]]:
    """Return the headers but hop-by-hop ones and those the `Connection` header lists."""
    dropped = (
        _NOT_FORWARDED
        if drop is NOT_FORWARDED
        else (_NOT_RETURNED if drop is NOT_RETURNED else frozenset(n.encode() for n in drop))
    )
    listed: set[bytes] = set()
    out = []
    for key, value in headers:
        name = key.lower()
        if name == b"connection":
            listed |= {v.strip().lower() for v in value.split(b",")}
        if name not in dropped:
            out.append((name, value))
    if listed:
        out = [(k, v) for k, v in out if k not in listed]
    return out


def _upstream_headers(scope: Scope) -> list[tuple[bytes, bytes]]:
    headers = _without_connection_listed(scope["headers"], NOT_FORWARDED)
    request_id = scope.get("state", {}).get("request_id")
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    client = scope.get("client")
    if client:
        headers.append((b"x-forwarded-for", client[0].encode()))
    headers.append((b"x-forwarded-proto", scope.get("scheme", "http").encode()))
    headers.append((b"accept-encoding", b"identity"))
    trace: dict[str, str] = {}
    tracing.inject(trace)  # the current span (kit.metrics: this request's) as `traceparent`
    headers.extend((k.encode(), v.encode("latin-1")) for k, v in trace.items())
    return headers


def upstream_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """Return the headers to send on: all end-to-end ones, Authorization unchanged."""
    return _upstream_headers(request.scope)


def _has_body(scope: Scope) -> bool:
    length = transfer = None
    for key, value in scope["headers"]:
        if key == b"content-length" and length is None:
            length = value
        elif key == b"transfer-encoding":
            transfer = value
    return (length is not None and length != b"0") or transfer is not None


async def _request_body(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionAbortedError("the client went away while sending its body")
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


async def _relay(upstream: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.content.iter_any():
            yield chunk
    except (TimeoutError, aiohttp.ClientError) as exc:
        # Headers are already out; all that is left is to cut the response short.
        log.warning("upstream broke off mid-response", url=str(upstream.url), error=repr(exc))
        raise
    finally:
        upstream.release()


async def _release(upstream: aiohttp.ClientResponse) -> None:
    upstream.release()  # back to the pool when read to the end, else closed


async def forward(request: Request) -> Response:
    """Verify the caller and the route's roles, then forward the request as it came."""
    service = service_for(request.url.path)
    if service is None:  # only routed prefixes reach here; kept as a guard
        raise NotFound()
    return await _forward(request.scope, request.receive, service)


async def _forward(scope: Scope, receive: Receive, service: str) -> Response:
    state = scope.get("state", {})
    principal = state.get("principal")
    if principal is None:
        raise Unauthorized(state.get("auth_error") or "Missing or invalid token")
    check_route_access(principal, scope["method"], scope["path"])
    return await _proxy(scope, receive, service)


async def forward_link(request: Request) -> Response:
    """Forward a signed link (no token needed: the service checks the link's signature)."""
    service = link_service_for(request.url.path)
    if service is None:
        raise NotFound()
    return await _proxy(request.scope, request.receive, service)


async def _proxy(scope: Scope, receive: Receive, service: str) -> Response:
    app_state = scope["app"].state
    upstream_pool: Upstream = app_state.upstream
    settings: Settings = app_state.settings
    method = scope["method"]
    query = scope.get("query_string", b"")
    target = (scope.get("raw_path") or scope["path"].encode()) + (b"?" + query if query else b"")
    headers = _upstream_headers(scope)
    body = _request_body(receive) if _has_body(scope) else None
    authorization = length = None
    for key, value in headers:
        if key == b"authorization" and authorization is None:
            authorization = value.decode("latin-1")
        elif key == b"content-length" and length is None:
            length = value.decode("latin-1")
    if body is None and length is None and method in _EMPTY_BODY_LENGTH:
        length = "0"
        headers.append((b"content-length", b"0"))
    # The service answers only what the gateway signed (kit.gateway_trust: the v2 form, its own key).
    key = upstream_pool.hop_keys[service]
    signature = sign_mac(key, method=method, target=target, authorization=authorization, length=length)
    headers.append((HEADER.encode(), signature.encode()))
    url = URL(settings.service_url(service) + target.decode("latin-1"), encoded=True)
    try:
        upstream = await upstream_pool.session().request(
            method,
            url,
            headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            data=body,
            allow_redirects=False,
        )
    except aiohttp.ClientConnectorError as exc:
        log.warning("upstream unreachable", service=service, error=repr(exc))
        raise Unavailable(f"The {service} service is unavailable; try again shortly") from exc
    except aiohttp.ConnectionTimeoutError as exc:
        log.warning("upstream unreachable", service=service, error=repr(exc))
        raise Unavailable(f"The {service} service is unavailable; try again shortly") from exc
    except TimeoutError as exc:  # aiohttp's socket read timeout among them
        raise GatewayTimeout(f"The {service} service did not answer in time") from exc
    except aiohttp.ClientError as exc:
        log.warning("upstream failed", service=service, error=repr(exc))
        raise BadGateway(f"The {service} service failed to answer") from exc
    returned = _without_connection_listed(upstream.raw_headers, NOT_RETURNED)
    status = upstream.status
    length_back = upstream.headers.get("content-length")
    if status in (204, 304) or method == "HEAD":  # no body (a 304 answers If-None-Match)
        upstream.release()
        response = Response(status_code=status)
    elif length_back is not None and length_back.isdigit() and int(length_back) <= BUFFER_UP_TO:
        # Most answers are a page of JSON: read it whole and send it in one message (cheaper
        # than streaming, and a service breaking off mid-answer is still a clean 502 here).
        try:
            content = await upstream.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            log.warning("upstream broke off mid-response", service=service, error=repr(exc))
            raise BadGateway(f"The {service} service failed to answer") from exc
        finally:
            upstream.release()
        response = Response(content, status_code=status)
    else:  # exports and other large or open-ended bodies stream through
        response = StreamingResponse(
            _relay(upstream), status_code=status, background=BackgroundTask(_release, upstream)
        )
    response.raw_headers = returned
    return response


class ProxyDispatch:
    """Send a forwarded `/api/v1/...` request to the proxy directly, past the router.

    The router would try each of the gateway's routes in turn and wrap the call in a Request and
    its exception handling; for the forwarded path this is all cost and no use. The route the
    router would have chosen is still set in the scope (metrics label requests by its template).
    Paths the gateway answers itself (`GET /api/v1/tasks`) and methods no proxy route takes go
    on to the router as before.
    """

    def __init__(self, app: ASGIApp, *, own: Iterable[BaseRoute] = ()):
        self.app = app
        # The gateway's own routes under a forwarded prefix (`GET /api/v1/tasks`): they come first.
        self.own = [r for r in own if service_for(getattr(r, "path", "").split("{", 1)[0]) is not None]
        self._routes: dict[str, tuple[Route, Route]] | None = None

    def _index(self, scope: Scope) -> dict[str, tuple[Route, Route]]:
        routes: dict[str, list[Route]] = {}
        for route in scope["app"].router.routes:
            if getattr(route, "endpoint", None) is forward:
                prefix = route.path[len(API) :].removesuffix("/{rest:anypath}")
                routes.setdefault(prefix, []).append(route)
        self._routes = {
            prefix: (
                next(r for r in rs if r.path == API + prefix),
                next(r for r in rs if r.path != API + prefix),
            )
            for prefix, rs in routes.items()
        }
        return self._routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _METHODS:
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        service = service_for(path)
        if service is None:
            await self.app(scope, receive, send)
            return
        routes = self._routes if self._routes is not None else self._index(scope)
        if any(route.matches(scope)[0] is Match.FULL for route in self.own):
            await self.app(scope, receive, send)
            return
        prefix = next(p for p in routes if path == API + p or path.startswith(API + p + "/"))
        exact, rest = routes[prefix]
        scope["route"] = exact if path == API + prefix else rest
        try:
            response = await _forward(scope, receive, service)
        except AppError as exc:
            response = problem(
                exc.status,
                exc.detail,
                code=exc.code,
                errors=exc.errors or None,
                headers=exc.headers,
                extra=exc.extra,
            )
        await response(scope, receive, send)


class AnyPathConvertor(Convertor[str]):
    """The rest of a path, newlines included (Starlette's `path` is `.*`, which stops at one, so a
    path parameter holding a newline would be 404 here instead of the service's own answer)."""

    regex = r"[\s\S]*"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("anypath", AnyPathConvertor())


def proxy_routes() -> list[Route]:
    """Return one catch-all route per routed prefix (unknown paths stay 404)."""
    routes = []
    for prefix in ROUTES:
        routes.append(Route(API + prefix, forward, methods=METHODS, include_in_schema=False))
        routes.append(
            Route(API + prefix + "/{rest:anypath}", forward, methods=METHODS, include_in_schema=False)
        )
    for prefix in LINKS:
        routes.append(
            Route(prefix + "/{rest:anypath}", forward_link, methods=["GET", "HEAD"], include_in_schema=False)
        )
    return routes
