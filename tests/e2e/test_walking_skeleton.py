"""Issue 2's promise, end to end: demo logins for every role, `me`, a new student counted in seconds."""

import asyncio
import time

import httpx

from deploy.demo.load import load_demo
from deploy.stack import Stack
from tests.helpers import ADMIN_PASSWORD, Api, birth_for, make_id_number


async def test_demo_roles_log_in_and_a_new_student_is_counted(stack: Stack, tmp_path):
    logins = await asyncio.to_thread(load_demo, stack.url(), admin=("admin", ADMIN_PASSWORD), n=40,
                                     state_dir=tmp_path)
    roles = [role for role, _, _ in logins]
    assert roles[:1] == ["admin"]
    assert {"county", "township", "school", "village", "platform"} <= set(roles)
    async with httpx.AsyncClient(base_url=stack.url(), timeout=30) as client:
        for role, username, secret in logins:
            if role == "platform":
                resp = await client.post("/api/v1/auth/token", data={
                    "grant_type": "client_credentials", "client_id": username, "client_secret": secret})
                assert resp.status_code == 200, resp.text
                token = resp.json()["access_token"]
                assert "refresh_token" not in resp.json()
                # A platform client may read figures but not the student registry.
                denied = await client.get("/api/v1/students", headers={"Authorization": f"Bearer {token}"})
                assert denied.status_code == 403
                continue
            api = await Api.login(client, username, secret)
            me = await api.ok("GET", "/api/v1/auth/me")
            assert me["username"] == username and me["role"] == role

        county_login = next(x for x in logins if x[0] == "county")
        county = await Api.login(client, county_login[1], county_login[2])
        before = (await county.ok("GET", "/api/v1/stats/enrollment"))["students"]
        assert before >= 30  # the demo's enrolled students (a few are suspended)
        schools = await county.ok("GET", "/api/v1/schools", params={"stage": "primary", "limit": 1})
        school = schools["items"][0]
        await county.ok("POST", "/api/v1/students", 201, json={
            "name": "赵新生", "id_number": make_id_number(birth_for("primary", 1)),
            "enrollment": {"school_code": school["code"], "stage": "primary", "grade": 1}})
        started = time.monotonic()
        while True:
            now = (await county.ok("GET", "/api/v1/stats/enrollment"))["students"]
            if now == before + 1:
                break
            assert time.monotonic() - started < 2.0, f"not counted within 2 s (still {now})"
            await asyncio.sleep(0.05)
        print(f"\ncounted after {time.monotonic() - started:.2f} s")
