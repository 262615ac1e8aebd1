"""Forwarding to the real services: what goes through, what is refused, and upstream failures."""

import asyncio
import contextlib
import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from aiohttp import web
from starlette.requests import Request

from api_gateway.keys import public_jwk
from api_gateway.proxy import NOT_RETURNED, _without_connection_listed, upstream_headers
from services.kit.gateway_trust import GatewaySigner
from tests.tokens import signing_key

from .conftest import (
    bearer,
    dead_url,
    fresh_county,
    make_areas,
    make_school,
    running,
    silent_server,
    stack_settings,
)

PROBLEM = "application/problem+json"


@pytest.fixture(scope="module")
async def platform(client, admin) -> dict[str, str]:
    made = (
        await client.post("/api/v1/clients", headers=admin, json={"name": "平台", "area_code": "61"})
    ).json()
    resp = await client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    return bearer(resp.json()["access_token"])


@pytest.fixture(scope="module")
async def nowhere(stack):
    """An in-process gateway with every service down: the 503 names the one a path goes to."""
    urls = {name: dead_url() for name in ("registry", "subsidy", "dropout", "statistics")}
    async with running(stack_settings(stack, service_urls=urls)) as client:
        yield client


class TestForward:
    async def test_body_and_query_reach_the_service(self, client, admin):
        county = fresh_county()
        made = await make_areas(client, admin, county, townships=3, name="旬阳")
        assert [a["name"] for a in made] == [f"旬阳{county}", "测试镇0", "测试镇1", "测试镇2"]
        params = {"area_code": county, "level": "township", "limit": 2}
        first = await client.get("/api/v1/areas", params=params, headers=admin)
        assert first.status_code == 200, first.text
        page = first.json()
        assert [a["code"] for a in page["items"]] == [f"{county}100", f"{county}101"]
        assert page["next_cursor"]
        rest = await client.get(
            "/api/v1/areas", params={**params, "cursor": page["next_cursor"]}, headers=admin
        )
        assert [a["code"] for a in rest.json()["items"]] == [f"{county}102"]

    async def test_non_ascii_query(self, client, admin):
        county = fresh_county()
        await make_areas(client, admin, county)
        school = await make_school(client, admin, f"{county}100", name="王家坪小学")
        resp = await client.get("/api/v1/schools", params={"q": "王家坪", "area_code": county}, headers=admin)
        assert [s["code"] for s in resp.json()["items"]] == [school["code"]]

    async def test_content_type_forwarded(self, client, admin):
        body = f'{{"code": "{fresh_county()}", "name": "县"}}'
        plain = await client.post(
            "/api/v1/areas", content=body, headers={**admin, "Content-Type": "text/plain"}
        )
        assert plain.status_code == 422  # the service saw text, not JSON
        ok = await client.post(
            "/api/v1/areas", content=body, headers={**admin, "Content-Type": "application/json"}
        )
        assert ok.status_code == 201, ok.text

    async def test_if_match_forwarded(self, client, admin):
        county = fresh_county()
        await make_areas(client, admin, county)
        school = await make_school(client, admin, f"{county}100")
        url = f"/api/v1/schools/{school['code']}"
        first = await client.patch(url, json={"name": "新名字"}, headers={**admin, "If-Match": '"1"'})
        assert first.status_code == 200, first.text
        assert first.json()["version"] == 2 and first.json()["name"] == "新名字"
        stale = await client.patch(url, json={"name": "又一个"}, headers={**admin, "If-Match": '"1"'})
        assert stale.status_code == 409
        assert stale.headers["content-type"].startswith(PROBLEM)

    async def test_request_id_echoed(self, client, admin):
        resp = await client.get("/api/v1/schools", headers={**admin, "X-Request-ID": "req-123"})
        assert resp.status_code == 200
        assert resp.headers["x-request-id"] == "req-123"

    async def test_request_id_made_when_missing(self, client, admin):
        resp = await client.get("/api/v1/schools", headers=admin)
        assert re.fullmatch(r"[0-9a-f]{32}", resp.headers["x-request-id"])

    async def test_service_errors_pass_through(self, client, admin):
        missing = await client.get("/api/v1/areas/619999999", headers=admin)
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith(PROBLEM)
        body = {"code": "21610", "name": "小学", "area_code": "610928100", "stages": ["primary"]}
        invalid = await client.post("/api/v1/schools", json=body, headers=admin)
        assert invalid.status_code == 422
        assert invalid.headers["content-type"].startswith(PROBLEM)
        assert [e["loc"] for e in invalid.json()["errors"]] == [["code"]]

    async def test_large_response_intact(self, client, admin, stack):
        """A long page arrives through the gateway byte for byte as the registry sends it."""
        county = fresh_county()
        body = [{"code": county, "name": "大县"}] + [
            {"code": f"{county}{i:03d}", "name": f"第{i}镇" * 18} for i in range(100, 220)
        ]
        assert (await client.post("/api/v1/areas", json=body, headers=admin)).status_code == 201
        path = f"/api/v1/areas?area_code={county}&limit=500"
        # Uncompressed, to compare bytes (the gateway gzips for clients that accept it).
        async with client.stream("GET", path, headers={**admin, "Accept-Encoding": "identity"}) as resp:
            assert resp.status_code == 200
            assert resp.headers["content-type"] == "application/json"
            via_gateway = b"".join([chunk async for chunk in resp.aiter_raw()])
        # Straight at the registry, signed as the gateway signs (a service answers nothing else).
        async with httpx.AsyncClient(base_url=stack.url("registry"), auth=gateway_signer(stack)) as direct:
            straight = (await direct.get(path, headers=admin)).content
        assert via_gateway == straight and len(straight) > 30_000
        assert len(httpx.Response(200, content=via_gateway).json()["items"]) == 121

    @pytest.mark.parametrize(
        ("path", "service"),
        [
            ("/api/v1/areas", "registry"),
            ("/api/v1/schools", "registry"),
            ("/api/v1/households/1", "registry"),
            ("/api/v1/students", "registry"),
            ("/api/v1/imports/templates/students", "registry"),
            ("/api/v1/subsidy/batches", "subsidy"),
            ("/api/v1/attendance/absences", "dropout"),
            ("/api/v1/dropout/cases", "dropout"),
            ("/api/v1/disability/placements", "dropout"),
            ("/api/v1/tasks/abc", "dropout"),
            ("/api/v1/stats/enrollment", "statistics"),
            ("/api/v1/verifications", "statistics"),
        ],
    )
    async def test_routing_table(self, nowhere, admin, path, service):
        resp = await nowhere.get(path, headers=admin)
        assert resp.status_code == 503
        assert f"The {service} service" in resp.json()["detail"]

    @pytest.mark.parametrize("service", ["registry", "subsidy", "dropout", "statistics"])
    async def test_every_service_reached(self, client, admin, service):
        path = {
            "registry": "/api/v1/schools",
            "subsidy": "/api/v1/subsidy/nothing-here",
            "dropout": "/api/v1/dropout/nothing-here",
            "statistics": "/api/v1/stats/enrollment",
        }[service]
        resp = await client.get(path, headers=admin)
        assert resp.status_code in (200, 404), resp.text  # the service answered, whatever it has

    async def test_anonymous_401_not_forwarded(self, client):
        resp = await client.get("/api/v1/schools")
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith(PROBLEM)

    @pytest.mark.parametrize("path", ["/api/v1/nothing", "/api/v1/schoolsx", "/api/v2/schools", "/elsewhere"])
    async def test_unknown_path_404(self, client, admin, path):
        resp = await client.get(path, headers=admin)
        assert resp.status_code == 404
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_wrong_method_on_own_route_405(self, client, admin):
        resp = await client.put("/api/v1/auth/me", headers=admin)
        assert resp.status_code == 405
        assert resp.headers["content-type"].startswith(PROBLEM)


class TestHeaders:
    """What the gateway sends on and hands back (the header rules themselves)."""

    def test_request_headers(self):
        raw = [
            (b"host", b"gateway"),
            (b"authorization", b"Bearer abc"),
            (b"content-type", b"application/json"),
            (b"x-request-id", b"client-sent"),
            (b"idempotency-key", b"fwd-1"),
            (b"if-match", b'"3"'),
            (b"keep-alive", b"timeout=5"),
            (b"connection", b"keep-alive, x-hop"),
            (b"x-hop", b"1"),
            (b"proxy-authorization", b"secret"),
            (b"x-forwarded-for", b"6.6.6.6"),
            (b"x-custom", b"yes"),
        ]
        scope = {
            "type": "http",
            "method": "POST",
            "scheme": "http",
            "path": "/api/v1/areas",
            "raw_path": b"/api/v1/areas",
            "query_string": b"",
            "headers": raw,
            "client": ("10.1.2.3", 40000),
            "server": ("gateway", 80),
            "state": {"request_id": "req-123"},
        }
        sent = {k.decode(): v.decode() for k, v in upstream_headers(Request(scope))}
        assert sent == {
            "authorization": "Bearer abc",
            "content-type": "application/json",
            "idempotency-key": "fwd-1",
            "if-match": '"3"',
            "x-custom": "yes",
            "x-request-id": "req-123",
            "x-forwarded-for": "10.1.2.3",
            "x-forwarded-proto": "http",
            "accept-encoding": "identity",  # the gateway compresses for the client itself
        }

    def test_response_headers(self):
        raw = [
            (b"content-type", b"text/csv"),
            (b"content-disposition", b"attachment; filename=x.csv"),
            (b"set-cookie", b"a=1"),
            (b"x-request-id", b"service-made"),
            (b"server", b"uvicorn"),
            (b"date", b"Mon, 01 Jan 2026 00:00:00 GMT"),
            (b"transfer-encoding", b"chunked"),
        ]
        kept = [k.decode() for k, _ in _without_connection_listed(raw, NOT_RETURNED)]
        assert kept == ["content-type", "content-disposition", "set-cookie"]


class TestPlatform:
    async def test_may_read_households(self, client, admin, platform):
        county = fresh_county()
        await client.post("/api/v1/areas", json={"code": f"{county}100201", "name": "村"}, headers=admin)
        made = await client.post(
            "/api/v1/households",
            json={"head_name": "王大山", "area_code": f"{county}100201", "platform_id": f"P{county}"},
            headers=admin,
        )
        assert made.status_code == 201, made.text
        one = await client.get(f"/api/v1/households/{made.json()['id']}", headers=platform)
        assert one.status_code == 200 and one.json()["head_name"] == "王大山"
        listed = await client.get(
            "/api/v1/households", params={"platform_id": f"P{county}"}, headers=platform
        )
        assert [h["id"] for h in listed.json()["items"]] == [made.json()["id"]]

    async def test_may_read_statistics(self, client, platform):
        resp = await client.get("/api/v1/stats/enrollment", headers=platform)
        assert resp.status_code == 200, resp.text
        assert resp.json()["area_code"] == "61"

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("GET", "/api/v1/students"),
            ("POST", "/api/v1/households"),
            ("GET", "/api/v1/subsidy/batches"),
            ("POST", "/api/v1/stats/locks"),
            ("GET", "/api/v1/users"),
            ("GET", "/api/v1/audit"),
        ],
    )
    async def test_refused_403(self, client, platform, method, path):
        resp = await client.request(method, path, headers=platform, json={})
        assert resp.status_code == 403, resp.text

    async def test_may_post_verifications(self, down, platform):
        # Let through to statistics, which is down for this gateway: 503, not 403.
        resp = await down.post("/api/v1/verifications", headers=platform, json={})
        assert resp.status_code == 503


class TestUpstreamFailures:
    async def test_down_503(self, down, admin):
        resp = await down.get("/api/v1/stats/enrollment", headers=admin)
        assert resp.status_code == 503
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert "statistics" in resp.json()["detail"]

    async def test_others_still_served(self, down, admin):
        assert (await down.get("/api/v1/schools", headers=admin)).status_code == 200

    async def test_slow_504(self, stack, admin):
        async with (
            silent_server() as hung,
            running(
                stack_settings(stack, service_urls={"registry": hung}, upstream_timeout_seconds=0.3)
            ) as gw,
        ):
            started = time.monotonic()
            resp = await gw.get("/api/v1/areas", headers=admin)
            assert resp.status_code == 504
            assert resp.headers["content-type"].startswith(PROBLEM)
            assert "registry" in resp.json()["detail"]
            assert time.monotonic() - started < 5

    @pytest.mark.parametrize(
        "answer",
        [
            b"NOT HTTP AT ALL\r\n\r\n",
            b"",  # the connection closed without a word
        ],
        ids=["garbage", "closed"],
    )
    async def test_broken_answer_502(self, stack, admin, answer):
        async with (
            answering_server(answer) as broken,
            running(stack_settings(stack, service_urls={"registry": broken})) as gw,
        ):
            resp = await gw.get("/api/v1/areas", headers=admin)
            assert resp.status_code == 502
            assert resp.headers["content-type"].startswith(PROBLEM)
            assert "registry" in resp.json()["detail"]


class TestStreaming:
    """Bodies both ways through the gateway's transport, and the target sent byte for byte."""

    BIG = bytes(range(256)) * 12_000  # ~3 MB: above what the gateway reads whole

    async def test_both_ways(self, stack, admin):
        seen: list[dict] = []

        async def echo(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            seen.append(
                {
                    "target": request.raw_path,
                    "length": request.headers.get("Content-Length"),
                    "chunked": request.headers.get("Transfer-Encoding"),
                    "body": body,
                    "signed": "X-Gateway-Signature" in request.headers,
                }
            )
            if request.query.get("size") == "big":
                out = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
                if request.query.get("length"):
                    out.content_length = len(self.BIG)
                await out.prepare(request)
                for i in range(0, len(self.BIG), 65536):
                    await out.write(self.BIG[i : i + 65536])
                await out.write_eof()
                return out
            return web.json_response({"got": len(body)}, status=201 if body else 200)

        app = web.Application(client_max_size=2**24)
        app.router.add_route("*", "/{tail:.*}", echo)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with running(
                stack_settings(stack, service_urls={"registry": f"http://127.0.0.1:{port}"})
            ) as gw:
                raw = "/api/v1/areas/a%2Fb%20c?q=%E7%8E%8B&x=1+2&y=%41"
                resp = await gw.get(raw, headers={**admin, "Accept-Encoding": "identity"})
                assert resp.status_code == 200, resp.text
                assert seen[-1]["target"] == raw and seen[-1]["signed"]
                for length in ("", "1"):
                    resp = await gw.get(
                        f"/api/v1/areas?size=big&length={length}",
                        headers={**admin, "Accept-Encoding": "identity"},
                    )
                    assert resp.status_code == 200 and resp.content == self.BIG
                resp = await gw.post("/api/v1/imports", content=self.BIG, headers=admin)
                assert resp.status_code == 201 and resp.json() == {"got": len(self.BIG)}
                assert seen[-1]["length"] == str(len(self.BIG)) and seen[-1]["body"] == self.BIG

                async def chunks():
                    for i in range(0, len(self.BIG), 100_000):
                        yield self.BIG[i : i + 100_000]

                resp = await gw.post("/api/v1/imports", content=chunks(), headers=admin)
                assert resp.status_code == 201 and resp.json() == {"got": len(self.BIG)}
                assert seen[-1]["chunked"] == "chunked" and seen[-1]["body"] == self.BIG
                empty = await gw.delete("/api/v1/areas/x", headers=admin)
                assert empty.status_code == 200 and seen[-1]["length"] == "0"
        finally:
            await runner.cleanup()


@contextlib.asynccontextmanager
async def answering_server(answer: bytes) -> AsyncIterator[str]:
    """A TCP server that reads a request head, sends `answer` and closes the connection."""

    async def reply(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            await reader.readuntil(b"\r\n\r\n")
            writer.write(answer)
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(reply, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        await server.wait_closed()


async def steady_readyz(client, stack) -> tuple[httpx.Response, dict[str, bool]]:
    """The gateway's /readyz and the services' own, read while the latter hold still: a service is
    degraded for a moment while events of earlier tests drain, and the two reads are instants apart."""
    for _ in range(40):
        before = await services_ready(stack)
        resp = await client.get("/readyz")
        if await services_ready(stack) == before:
            return resp, before
        await asyncio.sleep(0.25)
    raise AssertionError("the services' readiness never held still for one read of the gateway's")


def gateway_signer(stack) -> GatewaySigner:
    key = signing_key(stack.data_dir)
    return GatewaySigner(key, public_jwk(key.public_key())["kid"])


async def services_ready(stack) -> dict[str, bool]:
    """Ask each real service's own /readyz, as the gateway does."""
    async with httpx.AsyncClient() as http:
        return {
            name: (await http.get(f"{stack.url(name)}/readyz")).status_code == 200
            for name in ("registry", "subsidy", "dropout", "statistics")
        }


class TestMergedTasks:
    """`GET /api/v1/tasks` is the gateway's own: it asks dropout and subsidy and merges."""

    async def test_no_source_503(self, nowhere, admin):
        resp = await nowhere.get("/api/v1/tasks", headers=admin)
        assert resp.status_code == 503
        assert "tasks" in resp.json()["detail"]

    async def test_missing_source_named(self, stack, admin):
        async with running(stack_settings(stack, service_urls={"dropout": dead_url()})) as gw:
            resp = await gw.get("/api/v1/tasks", headers=admin)
        assert resp.status_code == 200, resp.text
        assert resp.json()["unavailable"] == ["dropout"]


class TestHealth:
    async def test_healthz(self, client):
        resp = await client.get("/healthz")
        assert resp.status_code == 200 and resp.json() == {"status": "ok"}

    async def test_readyz_reports_each_service(self, client, stack):
        resp, ready = await steady_readyz(client, stack)
        expected = {"database": True, **ready}
        assert resp.json()["checks"] == expected
        assert resp.status_code == (200 if all(expected.values()) else 503)

    async def test_readyz_names_what_is_down(self, down, stack):
        resp, ready = await steady_readyz(down, stack)
        assert resp.status_code == 503
        assert resp.json()["checks"] == {"database": True, **ready, "statistics": False}
