"""Idempotency-Key on POST: replays, conflicts, failures, and the caller's own key space."""

import uuid

from sqlalchemy import text

from .conftest import PASSWORD, fresh_county, unique


def key() -> str:
    return f"key-{uuid.uuid4()}"


def area(code: str | None = None, name: str = "县") -> dict:
    return {"code": code or fresh_county(), "name": name}


async def events_about(owner_engine, code: str) -> int:
    """How many `area.created` events the registry wrote for an area."""
    async with owner_engine.connect() as conn:
        return await conn.scalar(
            text(
                "SELECT count(*) FROM registry.outbox WHERE type = 'edu.registry.area.created' AND subject = :c"
            ),
            {"c": code},
        )


class TestIdempotency:
    async def test_forwarded_replay_returns_first_response(self, client, admin, owner_engine):
        headers = {**admin, "Idempotency-Key": key()}
        body = area()
        first = await client.post("/api/v1/areas", json=body, headers=headers)
        again = await client.post("/api/v1/areas", json=body, headers=headers)
        assert first.status_code == again.status_code == 201, first.text
        assert again.json() == first.json()
        assert again.headers["idempotent-replayed"] == "true"
        assert "idempotent-replayed" not in first.headers
        assert again.headers["content-type"] == first.headers["content-type"]
        assert await events_about(owner_engine, body["code"]) == 1  # the registry ran it once

    async def test_own_route_replay_creates_nothing(self, client, admin, owner_engine):
        body = {"username": unique("idem"), "password": PASSWORD, "role": "county", "area_code": "610928"}
        headers = {**admin, "Idempotency-Key": key()}
        first = await client.post("/api/v1/users", json=body, headers=headers)
        again = await client.post("/api/v1/users", json=body, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        async with owner_engine.connect() as conn:
            n = await conn.scalar(
                text("SELECT count(*) FROM gateway.user_account WHERE username = :u"), {"u": body["username"]}
            )
        assert n == 1

    async def test_same_key_other_body_422(self, client, admin):
        headers = {**admin, "Idempotency-Key": key()}
        code = fresh_county()
        assert (await client.post("/api/v1/areas", json=area(code, "甲"), headers=headers)).status_code == 201
        resp = await client.post("/api/v1/areas", json=area(code, "乙"), headers=headers)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]

    async def test_same_key_other_path_422(self, client, admin):
        headers = {**admin, "Idempotency-Key": key()}
        await client.post("/api/v1/areas", json=area(), headers=headers)
        resp = await client.post("/api/v1/schools", json={}, headers=headers)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]

    async def test_in_progress_409(self, client, admin, owner_engine):
        k = key()
        me = (await client.get("/api/v1/auth/me", headers=admin)).json()
        async with owner_engine.begin() as conn:
            await conn.execute(
                text(
                    "INSERT INTO gateway.idempotency_key (principal_sub, key, method, path, "
                    "request_hash) VALUES (:sub, :key, 'POST', '/api/v1/students', :h)"
                ),
                {
                    "sub": me["id"],
                    "key": k,
                    "h": "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",  # sha256 of {}
                },
            )
        resp = await client.post("/api/v1/students", json={}, headers={**admin, "Idempotency-Key": k})
        assert resp.status_code == 409
        assert resp.headers["retry-after"] == "1"

    async def test_server_error_not_kept(self, down, admin):
        headers = {**admin, "Idempotency-Key": key()}
        first = await down.post("/api/v1/verifications", json={}, headers=headers)
        again = await down.post("/api/v1/verifications", json={}, headers=headers)
        assert first.status_code == again.status_code == 503  # statistics is down for this gateway
        assert "idempotent-replayed" not in again.headers

    async def test_keys_are_per_caller(self, client, admin, make_user):
        county = fresh_county()
        _, county_user = await make_user("county", county)
        k = key()
        first = await client.post("/api/v1/areas", json=area(), headers={**admin, "Idempotency-Key": k})
        other = await client.post(
            "/api/v1/areas", json=area(f"{county}100"), headers={**county_user, "Idempotency-Key": k}
        )
        assert first.status_code == other.status_code == 201, other.text
        assert "idempotent-replayed" not in other.headers
        assert other.json()["code"] != first.json()["code"]

    async def test_without_key_each_post_counts(self, client, admin, owner_engine):
        body = area()
        first = await client.post("/api/v1/areas", json=body, headers=admin)
        again = await client.post("/api/v1/areas", json=body, headers=admin)
        assert (first.status_code, again.status_code) == (201, 409)  # the registry saw both
        assert await events_about(owner_engine, body["code"]) == 1

    async def test_bad_key_422(self, client, admin):
        resp = await client.post(
            "/api/v1/areas", json=area(), headers={**admin, "Idempotency-Key": "x" * 256}
        )
        assert resp.status_code == 422
