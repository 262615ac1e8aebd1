"""Forward `/api/v1/...` to the owning service over the shared pooled client, streaming both ways."""

from collections.abc import AsyncIterator

import httpx
import structlog
from starlette.background import BackgroundTask
from starlette.convertors import Convertor, register_url_convertor
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from api_gateway.routing import API, LINKS, ROUTES, check_route_access, link_service_for, service_for
from services.kit.errors import AppError, NotFound, Unauthorized, Unavailable
from services.kit.gateway_trust import HEADER
from services.kit.settings import Settings
from services.kit.tracing import httpx_hook

log = structlog.get_logger()
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
    "trailers", "transfer-encoding", "upgrade", "proxy-connection",
})
# Set again by this hop (host, length of what we send, our own request id and server headers).
# Accept-Encoding too: a service answers the gateway uncompressed (stored for idempotent replays,
# audited as it is), and the gateway compresses for the client (kit.conditional.gzip).
NOT_FORWARDED = HOP_BY_HOP | {"host", "x-request-id", "x-forwarded-for", "x-forwarded-proto",
                              "x-forwarded-host", "accept-encoding", HEADER}
NOT_RETURNED = HOP_BY_HOP | {"x-request-id", "date", "server"}
# Answers with a Content-Length up to this size are read whole, larger ones stream.
BUFFER_UP_TO = 1024 * 1024


class BadGateway(AppError):
    status, code = 502, "bad_gateway"


class GatewayTimeout(AppError):
    status, code = 504, "gateway_timeout"


def make_http_client(settings: Settings) -> httpx.AsyncClient:
    """Build the one pooled client every forwarded request shares."""
    timeout = settings.upstream_timeout_seconds
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        # Idle connections go before the services' own keep-alive timeout (uvicorn: 5 s) closes
        # them: reusing one the service is closing fails the request (502) after a quiet spell.
        limits=httpx.Limits(max_connections=200, max_keepalive_connections=100,
                            keepalive_expiry=4.0),
        follow_redirects=False, trust_env=False,
        # Each call carries the current trace (`traceparent`), the client's own header replaced.
        event_hooks={"request": [httpx_hook]},
    )


def _without_connection_listed(headers: list[tuple[bytes, bytes]], drop: frozenset[str],
                               ) -> list[tuple[bytes, bytes]]:
    listed = set()
    for key, value in headers:
        if key.lower() == b"connection":
            listed |= {v.strip().lower() for v in value.decode("latin-1").split(",")}
    return [(k, v) for k, v in headers
            if (name := k.decode("latin-1").lower()) not in drop and name not in listed]


def upstream_headers(request: Request) -> list[tuple[bytes, bytes]]:
    """Return the headers to send on: all end-to-end ones, Authorization unchanged."""
    headers = _without_connection_listed(request.headers.raw, NOT_FORWARDED)
    request_id = getattr(request.state, "request_id", None)
    if request_id:
        headers.append((b"x-request-id", request_id.encode()))
    if request.client:
        headers.append((b"x-forwarded-for", request.client.host.encode()))
    headers.append((b"x-forwarded-proto", request.url.scheme.encode()))
    headers.append((b"accept-encoding", b"identity"))
    return headers


def _has_body(request: Request) -> bool:
    length = request.headers.get("content-length")
    return (length is not None and length != "0") or "transfer-encoding" in request.headers


async def _relay(upstream: httpx.Response) -> AsyncIterator[bytes]:
    try:
        async for chunk in upstream.aiter_raw():
            yield chunk
    except httpx.HTTPError as exc:
        # Headers are already out; all that is left is to cut the response short.
        log.warning("upstream broke off mid-response", url=str(upstream.url), error=repr(exc))
        raise
    finally:
        await upstream.aclose()


async def forward(request: Request) -> Response:
    """Verify the caller and the route's roles, then forward the request as it came."""
    principal = request.scope.get("state", {}).get("principal")
    if principal is None:
        raise Unauthorized(request.scope.get("state", {}).get("auth_error") or
                           "Missing or invalid token")
    service = service_for(request.url.path)
    if service is None:  # only routed prefixes reach here; kept as a guard
        raise NotFound()
    check_route_access(principal, request.method, request.url.path)
    return await _proxy(request, service)


async def forward_link(request: Request) -> Response:
    """Forward a signed link (no token needed: the service checks the link's signature)."""
    service = link_service_for(request.url.path)
    if service is None:
        raise NotFound()
    return await _proxy(request, service)


async def _proxy(request: Request, service: str) -> Response:
    client: httpx.AsyncClient = request.app.state.http
    settings: Settings = request.app.state.settings
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    query = request.scope.get("query_string", b"")
    url = httpx.URL(settings.service_url(service)).copy_with(
        raw_path=raw_path + (b"?" + query if query else b""))
    upstream_request = client.build_request(
        request.method, url, headers=upstream_headers(request),
        content=request.stream() if _has_body(request) else None)
    request.app.state.keyring.sign(upstream_request)  # the service answers only what the gateway signed
    try:
        upstream = await client.send(upstream_request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        log.warning("upstream unreachable", service=service, error=repr(exc))
        raise Unavailable(f"The {service} service is unavailable; try again shortly") from exc
    except httpx.TimeoutException as exc:
        raise GatewayTimeout(f"The {service} service did not answer in time") from exc
    except httpx.HTTPError as exc:
        log.warning("upstream failed", service=service, error=repr(exc))
        raise BadGateway(f"The {service} service failed to answer") from exc
    headers = _without_connection_listed(upstream.headers.raw, NOT_RETURNED)
    length = upstream.headers.get("content-length")
    if upstream.status_code in (204, 304):  # no body (a 304 answers If-None-Match: kit.conditional)
        await upstream.aclose()
        response = Response(status_code=upstream.status_code)
    elif length is not None and length.isdigit() and int(length) <= BUFFER_UP_TO:
        # Most answers are a page of JSON: read it whole and send it in one message (cheaper
        # than streaming, and a service breaking off mid-answer is still a clean 502 here).
        try:
            body = b"".join([chunk async for chunk in upstream.aiter_raw()])
        except httpx.HTTPError as exc:
            log.warning("upstream broke off mid-response", service=service, error=repr(exc))
            raise BadGateway(f"The {service} service failed to answer") from exc
        finally:
            await upstream.aclose()
        response = Response(body, status_code=upstream.status_code)
    else:  # exports and other large or open-ended bodies stream through
        response = StreamingResponse(_relay(upstream), status_code=upstream.status_code,
                                     background=BackgroundTask(upstream.aclose))
    response.raw_headers = headers
    return response


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
        routes.append(Route(API + prefix + "/{rest:anypath}", forward, methods=METHODS,
                            include_in_schema=False))
    for prefix in LINKS:
        routes.append(Route(prefix + "/{rest:anypath}", forward_link, methods=["GET", "HEAD"],
                            include_in_schema=False))
    return routes
