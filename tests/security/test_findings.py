"""The smaller findings of the outside test (issue 18: 4, 6, 8, 9, 10, 11, 12), each through the stack.

Most run on the shared test stack. The clock override, trusted proxies and per-IP limits are about
how a deployment is configured, so those run on a second, production-like stack of this module
(NOL_ALLOW_CLOCK_OVERRIDE off, rate limits on, 127.0.0.2 the one trusted proxy).
"""

import asyncio
import base64
import io
import json
import os
import secrets
import shutil
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from deploy.stack import Stack
from tests import conftest
from tests.conftest import RUN_ID, _create_database, _delete_stream, _drop_database
from tests.helpers import ADMIN_PASSWORD, USER_PASSWORD, Api, World

TOKEN = "/api/v1/auth/token"
PER_MINUTE = 20
HEADER = ["姓名", "身份证号", "学校标识码", "学段", "年级"]  # a valid students header: only the cell is wrong


def _forge(value) -> str:
    return base64.urlsafe_b64encode(json.dumps(value).encode()).decode().rstrip("=")


def _vm_hwm_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) // 1024
    raise AssertionError("no VmHWM")


def xlsx_with_huge_cell(megabytes: int) -> bytes:
    """A valid students XLSX whose A2 holds `megabytes` MB of one letter (a few hundred KB zipped)."""
    from openpyxl import Workbook

    book = Workbook()
    book.active.append(HEADER)
    book.active.append(["@HUGE@", "x", "2161000001", "primary", "3"])
    plain = io.BytesIO()
    book.save(plain)
    source = zipfile.ZipFile(plain)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as bomb:
        for name in source.namelist():
            data = source.read(name)
            if not name.startswith("xl/worksheets/"):
                bomb.writestr(name, data)
                continue
            head, tail = data.split(b"@HUGE@")
            with bomb.open(name, "w", force_zip64=True) as part:
                part.write(head)
                for _ in range(megabytes):
                    part.write(b"A" * (1 << 20))
                part.write(tail)
    return out.getvalue()


class TestSpreadsheetBounds:
    async def test_huge_cell_refused_in_bounded_memory(self, api: Api, stack: Stack):
        body = await asyncio.to_thread(xlsx_with_huge_cell, 400)
        assert len(body) < 1_000_000
        pid = stack.procs["registry"].pid
        before = _vm_hwm_mb(pid)
        resp = await api.post("/api/v1/imports", data={"kind": "students"},
                              files={"file": ("students.xlsx", body, "application/octet-stream")})
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["errors"][0]["loc"] == ["file"]
        assert _vm_hwm_mb(pid) - before < 150, "the registry's peak memory grew with the cell"

    async def test_long_cell_named(self, api: Api):
        csv = ",".join(HEADER) + "\n" + "甲" * 1001 + ",x,2161000001,primary,3\n"
        resp = await api.post("/api/v1/imports", data={"kind": "students"},
                              files={"file": ("s.csv", csv.encode(), "text/csv")})
        assert resp.status_code == 422, resp.text
        assert "A2" in resp.json()["errors"][0]["msg"] + resp.json().get("detail", "")


class TestForgedCursor:
    FORGED = (
        _forge({"a": 1}),
        _forge([1, 2]),
        _forge(["x", "y"]),
        _forge([10**30, 1]),
        _forge([{"t": "not a time"}, {"u": "x"}]),
        _forge([{"t": "2026-01-01T00:00:00+00:00"}, 5]),
        _forge([[1], {"z": 1}]),
        _forge([10**30]),
        "!!!notbase64",
    )

    @pytest.mark.parametrize("path", ["/api/v1/students", "/api/v1/audit", "/api/v1/clients",
                                      "/api/v1/dropout/cases", "/api/v1/households", "/api/v1/users"])
    async def test_forged_cursor_422(self, api: Api, path: str):
        for cursor in self.FORGED:
            resp = await api.get(path, params={"cursor": cursor})
            assert resp.status_code == 422, f"{path} {cursor}: {resp.status_code} {resp.text}"
            assert resp.json()["errors"][0]["loc"][-1] == "cursor"

    async def test_real_cursor_still_works(self, api: Api):
        first = await api.ok("GET", "/api/v1/audit", params={"limit": 1})
        assert first["next_cursor"]
        await api.ok("GET", "/api/v1/audit", params={"limit": 1, "cursor": first["next_cursor"]})


class TestCalendarPlausible:
    async def test_whole_year_of_holidays_422(self, world: World):
        body = {"days": [{"date": "2027-01-01", "until": "2027-12-31", "kind": "holiday"}]}
        resp = await world.users["county"].request("PUT", "/api/v1/dropout/calendar/2027", json=body)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["loc"][-1] == "days"

    async def test_ordinary_breaks_accepted(self, world: World):
        body = {"days": [{"date": "2027-07-10", "until": "2027-08-31", "kind": "holiday", "name": "暑假"},
                         {"date": "2027-01-15", "until": "2027-02-20", "kind": "holiday", "name": "寒假"}]}
        await world.users["county"].ok("PUT", "/api/v1/dropout/calendar/2027", json=body)


async def _login(client: httpx.AsyncClient, username: str, password: str, **kw) -> httpx.Response:
    return await client.post(TOKEN, data={"grant_type": "password", "username": username,
                                          "password": password}, **kw)


class TestLoginLocks:
    async def test_unknown_and_known_answered_alike(self, api: Api, world: World):
        known = world.users["township"].username
        unknown = f"nobody_{secrets.token_hex(4)}"
        for name in (known, unknown):
            answers = [(await _login(api.client, name, "Wrong-pass-1")).status_code for _ in range(6)]
            assert answers == [401] * 5 + [429], (name, answers)

    async def test_unknown_username_failure_audited(self, api: Api):
        unknown = f"ghost_{secrets.token_hex(4)}"
        assert (await _login(api.client, unknown, "Wrong-pass-1")).status_code == 401
        entries = await api.ok("GET", "/api/v1/audit", params={"actor": unknown, "action": "login_failed"})
        assert entries["items"], "a failed login of an unknown username is invisible to the admin"

    async def test_enable_clears_the_lock(self, api: Api, world: World):
        name = (await world.user("township", world.townships[1])).username
        for _ in range(5):
            await _login(api.client, name, "Wrong-pass-1")
        assert (await _login(api.client, name, USER_PASSWORD)).status_code == 429
        user, cursor = None, None
        while user is None:  # walk the pages: the list may not filter by username
            params = {"limit": 500, **({"cursor": cursor} if cursor else {})}
            users = await api.ok("GET", "/api/v1/users", params=params)
            user = next((u for u in users["items"] if u["username"] == name), None)
            cursor = users.get("next_cursor")
            assert user or cursor, f"{name} not listed"
        await api.ok("POST", f"/api/v1/users/{user['id']}/enable")
        assert (await _login(api.client, name, USER_PASSWORD)).status_code == 200


class TestSecretNotKept:
    async def test_client_secret_not_in_idempotency_store(self, api: Api, db):
        key = f"client-{secrets.token_hex(6)}"
        body = {"name": "省平台", "area_code": "61"}
        made = await api.ok("POST", "/api/v1/clients", 201, json=body, headers={"Idempotency-Key": key})
        stored = await db.fetch("SELECT response_body FROM gateway.idempotency_key WHERE key = $1", key)
        assert stored and all(made["client_secret"].encode() not in bytes(r[0] or b"") for r in stored)
        again = await api.post("/api/v1/clients", json=body, headers={"Idempotency-Key": key})
        assert again.status_code == 409
        assert made["client_secret"] not in again.text
        assert again.json()["code"] == "idempotent_secret_not_kept"


class TestStatisticsScope:
    async def test_rebuild_needs_a_deployment_wide_admin(self, api: Api, world: World):
        username = f"cadmin_{secrets.token_hex(3)}"
        await api.ok("POST", "/api/v1/users", 201, json={
            "username": username, "password": USER_PASSWORD, "role": "admin", "area_code": world.code})
        county_admin = await Api.login(api.client, username, USER_PASSWORD)
        resp = await county_admin.post("/api/v1/stats/rebuild")
        assert resp.status_code == 403, resp.text

    async def test_other_county_school_404(self, api: Api, world: World, stack: Stack):
        other = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
        await other.student("primary")
        await world.student("primary")
        county = world.users["county"]
        resp = await county.get("/api/v1/stats/enrollment",
                                params={"school_code": other.schools["primary"]["code"]})
        assert resp.status_code == 404, resp.text
        await county.ok("GET", "/api/v1/stats/enrollment",
                        params={"school_code": world.schools["primary"]["code"]})


@pytest.fixture(scope="module")
def prodlike() -> Iterator[Stack]:
    """A stack configured as a deployment: no clock override, rate limits on, one trusted proxy."""
    tmp = Path(tempfile.mkdtemp(prefix="nol-prodlike-"))
    env = {"NOL_ADMIN_USERNAME": "admin", "NOL_ADMIN_PASSWORD": ADMIN_PASSWORD, "NOL_ADMIN_AREA": "61",
           "NOL_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE), "NOL_TRUSTED_PROXIES": '["127.0.0.2"]',
           "NOL_LOG_LEVEL": "WARNING", "NOL_DEMO": "0", "NOL_DATA_DIR": str(tmp)}
    dropped = None
    if os.environ.get("NOL_DATABASE_URL"):
        dropped = f"nol_prod_{RUN_ID}"
        env["NOL_DATABASE_URL"] = _create_database(os.environ["NOL_DATABASE_URL"], dropped)
    if os.environ.get("NOL_NATS_URL"):
        env["NOL_STREAM"] = f"EDU_PROD_{RUN_ID}"
        env["NOL_SUBJECT_PREFIX"] = f"prod{RUN_ID}"
    s = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs")
    try:
        s.start()
        yield s
    finally:
        s.stop()
        if os.environ.get("NOL_NATS_URL"):
            asyncio.run(_delete_stream(os.environ["NOL_NATS_URL"], env["NOL_STREAM"]))
        if dropped:
            _drop_database(os.environ["NOL_DATABASE_URL"], dropped)
        shutil.rmtree(tmp, ignore_errors=True)


def _client(stack: Stack, source: str) -> httpx.AsyncClient:
    transport = httpx.AsyncHTTPTransport(local_address=source)
    return httpx.AsyncClient(base_url=stack.url(), timeout=30, transport=transport)


class TestDeploymentConfig:
    async def test_today_refused_without_override(self, prodlike: Stack):
        async with _client(prodlike, "127.0.0.3") as client:
            admin = await Api.login(client, "admin", ADMIN_PASSWORD)
            resp = await admin.post("/api/v1/dropout/checks/run", json={"today": "2099-12-31"})
            assert resp.status_code == 422, resp.text
            assert resp.json()["errors"][0]["loc"][-1] == "today"
            await admin.ok("POST", "/api/v1/dropout/checks/run", json={})

    async def test_client_sent_forwarded_for_not_trusted(self, prodlike: Stack):
        async with _client(prodlike, "127.0.0.4") as client:
            answers = [
                (await _login(client, "nobody", "x", headers={"X-Forwarded-For": f"10.9.0.{i}"})).status_code
                for i in range(PER_MINUTE + 2)
            ]
        assert 429 in answers, "a fresh X-Forwarded-For per request escaped the per-IP limit"

    async def test_lock_is_per_client_ip(self, prodlike: Stack):
        async with _client(prodlike, "127.0.0.2") as proxy:  # the trusted proxy
            for _ in range(5):
                resp = await _login(proxy, "admin", "Wrong-pass-1", headers={"X-Forwarded-For": "10.6.6.6"})
                assert resp.status_code == 401
            attacker = await _login(proxy, "admin", ADMIN_PASSWORD, headers={"X-Forwarded-For": "10.6.6.6"})
            assert attacker.status_code == 429
            owner = await _login(proxy, "admin", ADMIN_PASSWORD, headers={"X-Forwarded-For": "10.1.1.1"})
            assert owner.status_code == 200, "one client's failures shut the admin out everywhere"
