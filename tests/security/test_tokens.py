"""Bad tokens are refused with 401 at the gateway and at every service port, revoked ones too."""

import asyncio
import time
import uuid

import httpx
import pytest

from deploy.stack import Stack
from services.kit.settings import SERVICES
from tests import tokens
from tests.helpers import USER_PASSWORD, Api, eventually

PORTS = ["gateway", *SERVICES]
PATH = {
    "gateway": "/api/v1/auth/me",
    "registry": "/api/v1/students",
    "subsidy": "/api/v1/students",
    "dropout": "/api/v1/students",
    "statistics": "/api/v1/stats/enrollment",
}


@pytest.fixture(scope="module")
async def forged(stack: Stack, api: Api) -> dict[str, str]:
    jwks = (await api.client.get("/.well-known/jwks.json")).json()
    key = tokens.signing_key(stack.data_dir)
    kid = jwks["keys"][0]["kid"]
    return {
        "tampered": tokens.tamper(api.token, role="county", area_code="61"),
        "alg_none": tokens.alg_none(kid),
        "hs256_public_key": tokens.hs256_with_public_key(jwks["keys"][0], kid),
        "expired": tokens.sign(key, kid, iat=1_700_000_000, nbf=1_700_000_000, exp=1_700_000_300),
        "wrong_audience": tokens.sign(key, kid, aud="someone-else"),
        "wrong_issuer": tokens.sign(key, kid, iss="evil"),
        "no_exp": tokens.sign(key, kid, exp=None),
        "not_yet_valid": tokens.sign(key, kid, nbf=int(time.time()) + 600),
        "refresh_typed": tokens.sign(key, kid, typ="refresh"),
        "garbage": "not.a.token",
    }


@pytest.mark.parametrize("where", PORTS)
@pytest.mark.parametrize(
    "kind",
    [
        "tampered",
        "alg_none",
        "hs256_public_key",
        "expired",
        "wrong_audience",
        "wrong_issuer",
        "no_exp",
        "not_yet_valid",
        "refresh_typed",
        "garbage",
        "missing",
    ],
)
async def test_bad_token_401(stack: Stack, forged: dict[str, str], where: str, kind: str):
    headers = {} if kind == "missing" else {"Authorization": f"Bearer {forged[kind]}"}
    async with httpx.AsyncClient(base_url=stack.url(where), timeout=10) as client:
        resp = await client.get(PATH[where], headers=headers)
    assert resp.status_code == 401, (where, kind, resp.text)
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("where", SERVICES)
async def test_valid_token_accepted_at_service_port(stack: Stack, api: Api, where: str):
    """The control: the same call with the admin's genuine token is not a 401."""
    async with httpx.AsyncClient(base_url=stack.url(where), timeout=10) as client:
        resp = await client.get(PATH[where], headers=api.headers)
    assert resp.status_code != 401, resp.text


async def _status_everywhere(stack: Stack, token: str) -> dict[str, int]:
    async def one(where: str) -> tuple[str, int]:
        async with httpx.AsyncClient(base_url=stack.url(where), timeout=10) as client:
            resp = await client.get(PATH[where], headers={"Authorization": f"Bearer {token}"})
        return where, resp.status_code

    return dict(await asyncio.gather(*(one(w) for w in PORTS)))


async def _revoked_everywhere(stack: Stack, token: str) -> dict[str, int]:
    """Wait (services refresh their copy of the list within about two seconds) until every port says 401."""

    async def all_401():
        got = await _status_everywhere(stack, token)
        return got if set(got.values()) == {401} else None

    return await eventually(all_401, timeout=10, interval=0.25)


async def test_logout_revokes_the_access_token_at_every_port(stack: Stack, api: Api):
    name = f"leaver_{uuid.uuid4().hex[:8]}"
    await api.ok(
        "POST",
        "/api/v1/users",
        201,
        json={"username": name, "password": USER_PASSWORD, "role": "county", "area_code": "610999"},
    )
    user = await Api.login(api.client, name, USER_PASSWORD)
    other_login = await Api.login(api.client, name, USER_PASSWORD)
    before = await _status_everywhere(stack, user.token)
    assert 401 not in before.values(), before
    resp = await api.client.post("/api/v1/auth/logout", json={"refresh_token": user.refresh_token})
    assert resp.status_code == 204
    # The gateway refuses it at once; every service within its poll interval.
    me = await api.client.get("/api/v1/auth/me", headers=user.headers)
    assert me.status_code == 401 and "revoked" in me.json()["detail"]
    await _revoked_everywhere(stack, user.token)
    # Only that login ended: the same person's other session still works everywhere.
    assert 401 not in (await _status_everywhere(stack, other_login.token)).values()


async def test_disabling_a_user_or_a_client_revokes_their_tokens(stack: Stack, api: Api):
    name = f"moved_{uuid.uuid4().hex[:8]}"
    created = await api.ok(
        "POST",
        "/api/v1/users",
        201,
        json={"username": name, "password": USER_PASSWORD, "role": "county", "area_code": "610999"},
    )
    user = await Api.login(api.client, name, USER_PASSWORD)
    await api.ok("POST", f"/api/v1/users/{created['id']}/disable")
    await _revoked_everywhere(stack, user.token)
    # The published list holds random session ids only: it names no user.
    listed = (await api.client.get("/.well-known/revocations.json")).json()
    assert set(listed) == {"sessions"} and listed["sessions"]
    assert created["id"] not in str(listed) and name not in str(listed)

    client = await api.ok(
        "POST", "/api/v1/clients", 201, json={"name": "省平台(撤销测试)", "area_code": "61"}
    )
    resp = await api.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert resp.status_code == 200, resp.text
    machine = resp.json()["access_token"]
    assert 401 not in (await _status_everywhere(stack, machine)).values()
    await api.ok("POST", f"/api/v1/clients/{client['client_id']}/disable")
    await _revoked_everywhere(stack, machine)
    # Enabled again, the client logs in afresh and its new tokens pass.
    await api.ok("POST", f"/api/v1/clients/{client['client_id']}/enable")
    resp = await api.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client["client_id"],
            "client_secret": client["client_secret"],
        },
    )
    assert 401 not in (await _status_everywhere(stack, resp.json()["access_token"])).values()
