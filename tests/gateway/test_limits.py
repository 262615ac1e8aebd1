"""Body size limit (413) and rate limits (429 with Retry-After)."""

import asyncio
import json

import pytest

from api_gateway.ratelimit import RateLimiter
from tests.helpers import ADMIN_PASSWORD

from .conftest import ADMIN_USER, fresh_county, headers_for, login, running, stack_settings

PROBLEM = "application/problem+json"
MB = 1024 * 1024
LIMIT = 4096


@pytest.fixture(scope="module")
async def small(stack):
    """A second gateway on the same database and services, taking bodies up to 4 KiB."""
    async with running(stack_settings(stack, body_limit_bytes=LIMIT)) as client:
        yield client


def areas_body(size: int) -> bytes:
    """A valid JSON list of new areas, padded with whitespace to exactly `size` bytes."""
    county = fresh_county()
    raw = json.dumps([{"code": county, "name": "县"}, {"code": f"{county}100", "name": "镇"}]).encode()
    assert len(raw) <= size
    return raw.ljust(size)


async def chunks(total: int, size: int = 1024):
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


class TestBodyLimit:
    async def test_default_limit_over_http_413(self, stack, admin):
        """The stack's gateway (10 MiB) answers a larger declared body before any of it is sent."""
        host, port = stack.url().removeprefix("http://").split(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        try:
            writer.write(
                f"POST /api/v1/users HTTP/1.1\r\nHost: {host}\r\n"
                f"Authorization: {admin['Authorization']}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {10 * MB + 1}\r\n\r\n".encode()
            )
            await writer.drain()
            head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), timeout=10)
        finally:
            writer.close()
        assert head.startswith(b"HTTP/1.1 413 ")
        assert b"content-type: application/problem+json" in head.lower()

    @pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/areas"])
    async def test_content_length_over_limit_413(self, small, admin, path):
        resp = await small.post(
            path, content=areas_body(LIMIT + 1), headers={**admin, "Content-Type": "application/json"}
        )
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith(PROBLEM)

    @pytest.mark.parametrize("path", ["/api/v1/users", "/api/v1/areas"])
    async def test_chunked_over_limit_413(self, small, admin, path):
        resp = await small.post(
            path, content=chunks(LIMIT + 1), headers={**admin, "Content-Type": "application/json"}
        )
        assert "content-length" not in resp.request.headers
        assert resp.status_code == 413
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_at_the_limit_passes(self, small, admin):
        body = areas_body(LIMIT)
        resp = await small.post(
            "/api/v1/areas", content=body, headers={**admin, "Content-Type": "application/json"}
        )
        assert resp.status_code == 201, resp.text
        assert [a["code"] for a in resp.json()] == [a["code"] for a in json.loads(body)]

    async def test_at_the_limit_chunked_passes(self, small, admin):
        body = areas_body(LIMIT)

        async def pieces():
            for i in range(0, LIMIT, 1000):
                yield body[i : i + 1000]

        resp = await small.post(
            "/api/v1/areas", content=pieces(), headers={**admin, "Content-Type": "application/json"}
        )
        assert resp.status_code == 201, resp.text


@pytest.fixture(scope="module")
async def limited(stack):
    """A second gateway on the same database and services, limited to 5 requests a minute."""
    async with running(stack_settings(stack, rate_limit_per_minute=5)) as client:
        yield client


class TestRateLimit:
    async def test_per_caller_429(self, limited):
        headers = await headers_for(limited, ADMIN_USER, ADMIN_PASSWORD)
        codes = [(await limited.get("/api/v1/auth/me", headers=headers)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        resp = await limited.get("/api/v1/auth/me", headers=headers)
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert 1 <= int(resp.headers["retry-after"]) <= 60

    async def test_login_per_ip_429(self, limited):
        codes = [(await login(limited, "nobody", "Wrong-pass-1")).status_code for _ in range(6)]
        assert codes[-1] == 429 and 429 not in codes[:4]
        resp = await login(limited, ADMIN_USER, ADMIN_PASSWORD)
        assert resp.status_code == 429 and int(resp.headers["retry-after"]) >= 1


class TestRateLimiter:
    def test_burst_then_steady_rate(self):
        now = [1000.0]
        limiter = RateLimiter(60, clock=lambda: now[0])
        assert all(limiter.hit("a") == 0 for _ in range(60))
        wait = limiter.hit("a")
        assert 0.9 < wait <= 1.0
        assert limiter.hit("b") == 0  # keys are independent
        now[0] += 1.0
        assert limiter.hit("a") == 0
        assert limiter.hit("a") > 0

    def test_idle_keys_forgotten(self):
        now = [0.0]
        limiter = RateLimiter(10, clock=lambda: now[0])
        limiter.hit("a")
        now[0] += 120
        limiter.hit("b")
        assert "a" not in limiter._tat
