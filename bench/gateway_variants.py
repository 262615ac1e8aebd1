"""The gateway with another upstream transport, for bench/load.py only (the app is otherwise the same).

    uvicorn bench.gateway_variants:create_app_httpx --factory

- `create_app_httpx`: forwarded requests sent with the gateway's pooled httpx client (httpx over
  httpcore, the transport before api_gateway.proxy moved to aiohttp), for a side-by-side figure.
"""

import httpx
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse
from starlette.types import Receive, Scope

import api_gateway.main as gateway_main
from api_gateway import proxy
from services.kit.errors import Unavailable
from services.kit.gateway_trust import mac_httpx


async def _proxy_httpx(scope: Scope, receive: Receive, service: str) -> Response:
    """api_gateway.proxy._proxy over httpx (same headers, signature and error mapping)."""
    state = scope["app"].state
    client: httpx.AsyncClient = state.http
    query = scope.get("query_string", b"")
    target = (scope.get("raw_path") or scope["path"].encode()) + (b"?" + query if query else b"")
    url = httpx.URL(state.settings.service_url(service)).copy_with(raw_path=target)
    body = proxy._request_body(receive) if proxy._has_body(scope) else None
    request = client.build_request(scope["method"], url, headers=proxy._upstream_headers(scope), content=body)
    mac_httpx(request, state.upstream.hop_keys[service])  # as the proxy signs (kit.gateway_trust v2)
    try:
        upstream = await client.send(request, stream=True)
    except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
        raise Unavailable(f"The {service} service is unavailable; try again shortly") from exc
    except httpx.TimeoutException as exc:
        raise proxy.GatewayTimeout(f"The {service} service did not answer in time") from exc
    except httpx.HTTPError as exc:
        raise proxy.BadGateway(f"The {service} service failed to answer") from exc
    headers = proxy._without_connection_listed(upstream.headers.raw, proxy.NOT_RETURNED)
    length = upstream.headers.get("content-length")
    if upstream.status_code in (204, 304):
        await upstream.aclose()
        response = Response(status_code=upstream.status_code)
    elif length is not None and length.isdigit() and int(length) <= proxy.BUFFER_UP_TO:
        try:
            content = b"".join([chunk async for chunk in upstream.aiter_raw()])
        except httpx.HTTPError as exc:
            raise proxy.BadGateway(f"The {service} service failed to answer") from exc
        finally:
            await upstream.aclose()
        response = Response(content, status_code=upstream.status_code)
    else:
        response = StreamingResponse(
            upstream.aiter_raw(), status_code=upstream.status_code, background=BackgroundTask(upstream.aclose)
        )
    response.raw_headers = headers
    return response


def create_app_httpx():
    """The gateway whose forwarded requests go through httpx (httpcore's pool)."""
    proxy._proxy = _proxy_httpx
    return gateway_main.create_app()
