"""The audit log: what is recorded, who may read it, and that tampering is detected."""

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from api_gateway.audit.chain import verify_chain
from services.kit.db import make_engine, service_url

from .conftest import ADMIN_USER, PASSWORD, fresh_county, login, make_areas, unique

ROOT = Path(__file__).resolve().parents[2]


async def entries(client, headers, **params) -> list[dict]:
    resp = await client.get("/api/v1/audit", params={"limit": 500, **params}, headers=headers)
    assert resp.status_code == 200, resp.text
    return resp.json()["items"]


def verify_cli(database_url: str) -> subprocess.CompletedProcess:
    """Run `python -m api_gateway.audit verify` against the test database."""
    env = {**os.environ, "NOL_DATABASE_URL": database_url}
    return subprocess.run(
        [sys.executable, "-m", "api_gateway.audit", "verify"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


class TestRecorded:
    async def test_logins(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        await login(client, user["username"], "Wrong-pass-1")
        found = await entries(client, admin, actor=user["username"])
        actions = [e["action"] for e in found]
        assert actions[:2] == ["login_failed", "login"]  # newest first
        assert found[0]["status"] == 401 and found[0]["target_type"] == "auth"

    async def test_forwarded_create_with_its_id(self, client, admin):
        county = fresh_county()
        rid = unique("audit-create")
        resp = await client.post(
            "/api/v1/areas", json={"code": county, "name": "县"}, headers={**admin, "X-Request-ID": rid}
        )
        assert resp.status_code == 201, resp.text
        (entry,) = await entries(client, admin, target_id=county)
        assert entry["action"] == "create" and entry["target_type"] == "areas"
        assert entry["actor"] == ADMIN_USER and entry["status"] == 201
        assert entry["request_id"] == rid
        assert entry["method"] == "POST" and entry["path"] == "/api/v1/areas"

    async def test_reveal(self, client, admin, world):
        county = world.users["county"]
        student = await world.student("primary")
        sid = student["id"]
        resp = await client.get(
            f"/api/v1/students/{sid}", params={"reveal": "id_number"}, headers=county.headers
        )
        assert resp.status_code == 200, resp.text
        assert len(resp.json()["id_number"]) == 18
        (entry,) = await entries(client, admin, target_id=sid, action="reveal")
        assert entry["target_type"] == "students" and entry["actor"] == county.username
        # A plain read is not audited.
        await client.get(f"/api/v1/students/{sid}", headers=county.headers)
        assert len(await entries(client, admin, target_id=sid, action="reveal")) == 1
        assert [e["action"] for e in await entries(client, admin, target_id=sid)] == ["reveal", "create"]

    async def test_refused_reveal_recorded_with_its_status(self, client, admin, world):
        student = await world.student("primary")
        resp = await client.get(
            f"/api/v1/students/{student['id']}",
            params={"reveal": "id_number"},
            headers=world.users["township"].headers,
        )
        assert resp.status_code == 403  # the registry refuses township users
        (entry,) = await entries(client, admin, target_id=student["id"], action="reveal")
        assert entry["status"] == 403

    @pytest.mark.parametrize(
        ("method", "path", "action", "target"),
        [
            ("PATCH", "/api/v1/schools/2161000001", "update", ("schools", "2161000001")),
            ("DELETE", "/api/v1/areas/610928", "delete", ("areas", "610928")),
            ("POST", "/api/v1/subsidy/batches/b1/approve", "approve", ("subsidy.batches", "b1")),
            ("POST", "/api/v1/students/s1/enrollment-changes", "create", ("students", "s1")),
        ],
    )
    async def test_writes(self, client, admin, method, path, action, target):
        rid = unique("rid")
        await client.request(method, path, json={}, headers={**admin, "X-Request-ID": rid})
        found = [e for e in await entries(client, admin, target_id=target[1]) if e["request_id"] == rid]
        assert len(found) == 1
        assert (found[0]["action"], found[0]["target_type"]) == (action, target[0])

    async def test_failed_write_recorded(self, client, make_user, admin):
        _, township = await make_user("township", "610928100")
        rid = unique("rid")
        resp = await client.post(
            "/api/v1/users",
            headers={**township, "X-Request-ID": rid},
            json={"username": unique("x"), "password": PASSWORD, "role": "county", "area_code": "610928"},
        )
        assert resp.status_code == 403
        found = [e for e in await entries(client, admin, action="create") if e["request_id"] == rid]
        assert [e["status"] for e in found] == [403]

    async def test_user_management(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        await client.post(f"/api/v1/users/{user['id']}/disable", headers=admin)
        actions = [e["action"] for e in await entries(client, admin, target_id=user["id"])]
        assert actions == ["disable", "create"]


class TestReading:
    async def test_county_sees_its_area_only(self, client, make_user):
        mine_code, other_code = fresh_county(), fresh_county()
        me, county = await make_user("county", mine_code)
        _, other = await make_user("county", other_code)
        made = await client.post(
            "/api/v1/areas", json={"code": f"{mine_code}200", "name": "镇"}, headers=county
        )
        assert made.status_code == 201, made.text
        await client.post("/api/v1/areas", json={"code": f"{other_code}200", "name": "镇"}, headers=other)
        mine = await entries(client, county)
        assert {e["actor"] for e in mine} == {me["username"]}
        assert f"{mine_code}200" in {e["target_id"] for e in mine}

    @pytest.mark.parametrize("role", ["township", "school", "village"])
    async def test_other_roles_403(self, client, make_user, role):
        area = {"township": "610928100", "school": "610928", "village": "610928100201"}[role]
        _, headers = await make_user(role, area, "2161000003" if role == "school" else None)
        assert (await client.get("/api/v1/audit", headers=headers)).status_code == 403

    async def test_filters_and_pages(self, client, admin):
        since = datetime.now(UTC) - timedelta(seconds=1)
        county = fresh_county()
        await make_areas(client, admin, county, townships=3)
        params = {"action": "create", "actor": ADMIN_USER, "since": since.isoformat(), "limit": 2}
        first = (await client.get("/api/v1/audit", params=params, headers=admin)).json()
        assert len(first["items"]) == 2 and first["next_cursor"]
        second = (
            await client.get(
                "/api/v1/audit", params={**params, "cursor": first["next_cursor"]}, headers=admin
            )
        ).json()
        ids = [e["id"] for e in first["items"] + second["items"]]
        assert len(ids) >= 3 and ids == sorted(ids, reverse=True)


class TestChain:
    async def test_intact(self, owner_engine):
        async with owner_engine.connect() as conn:
            checked, broken = await verify_chain(conn)
        assert broken is None and checked > 0

    async def test_gateway_role_cannot_change_rows(self, settings):
        engine = make_engine(service_url(settings, "gateway"))  # as the gateway connects
        try:
            for stmt in (
                "UPDATE gateway.audit_log SET actor = 'x'",
                "DELETE FROM gateway.audit_log",
                "TRUNCATE gateway.audit_log",
            ):
                with pytest.raises(DBAPIError):
                    async with engine.begin() as conn:
                        await conn.execute(text(stmt))
        finally:
            await engine.dispose()

    async def test_tampering_detected(self, client, admin, owner_engine, database_url):
        await client.post("/api/v1/areas", json={"code": fresh_county(), "name": "县"}, headers=admin)
        async with owner_engine.begin() as conn:
            victim = (
                await conn.execute(
                    text("SELECT id, actor FROM gateway.audit_log ORDER BY id DESC OFFSET 1 LIMIT 1")
                )
            ).one()
        await self._set_actor(owner_engine, victim.id, "someone-else")
        try:
            async with owner_engine.connect() as conn:
                _, broken = await verify_chain(conn)
            assert broken is not None and broken.id == victim.id
            done = verify_cli(database_url)
            assert done.returncode == 1 and f"id {victim.id}" in done.stdout
        finally:
            await self._set_actor(owner_engine, victim.id, victim.actor)
        async with owner_engine.connect() as conn:
            assert (await verify_chain(conn))[1] is None

    async def test_cli_ok(self, database_url):
        done = verify_cli(database_url)
        assert done.returncode == 0, done.stdout + done.stderr
        assert done.stdout.startswith("OK")

    @staticmethod
    async def _set_actor(engine, row_id: int, actor: str) -> None:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE gateway.audit_log DISABLE TRIGGER audit_log_append_only"))
            await conn.execute(
                text("UPDATE gateway.audit_log SET actor = :a WHERE id = :i"), {"a": actor, "i": row_id}
            )
            await conn.execute(text("ALTER TABLE gateway.audit_log ENABLE TRIGGER audit_log_append_only"))
