"""The gateway with another upstream transport, for bench/load.py only (the app is otherwise the same).

    uvicorn bench.gateway_variants:create_app_aiohttp --factory

- `create_app_aiohttp`: httpx's API over aiohttp's connection pool (the httpx-aiohttp package,
  if installed) — same client code, another transport.
"""

import httpx

import api_gateway.main as gateway_main
from services.kit.settings import Settings


def _aiohttp_client(settings: Settings) -> httpx.AsyncClient:
    from httpx_aiohttp import AiohttpTransport

    timeout = settings.upstream_timeout_seconds
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=100, keepalive_expiry=4.0)
    return httpx.AsyncClient(
        transport=AiohttpTransport(trust_env=False, limits=limits),
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        follow_redirects=False,
        trust_env=False,
    )


def create_app_aiohttp():
    """The gateway whose shared client sends through aiohttp."""
    gateway_main.make_http_client = _aiohttp_client
    return gateway_main.create_app()
