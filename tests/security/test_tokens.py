"""Bad tokens are refused with 401 at the gateway and at every service port, revoked ones too.

A service port answers what the gateway signed (kit.gateway_trust) and, unsigned, only plain reads
by staff (kit.auth.DirectReads), so these tests sign their direct calls as the gateway does: what is
checked is that the token is verified there too. The tests at the end check the port's own policy.
"""

import asyncio
import time
import uuid
from types import SimpleNamespace

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from api_gateway.keys import public_jwk
from deploy.stack import Stack
from services.kit import gateway_trust
from services.kit.auth import DirectReads, Principal, Role
from services.kit.errors import RateLimited
from services.kit.gateway_trust import GatewaySigner, NotViaGateway
from services.kit.settings import SERVICES, Settings
from tests import conftest, tokens
from tests.helpers import USER_PASSWORD, Api, World, eventually

PORTS = ["gateway", *SERVICES]
PATH = {
    "gateway": "/api/v1/auth/me",
    "registry": "/api/v1/students",
    "subsidy": "/api/v1/students",
    "dropout": "/api/v1/students",
    "statistics": "/api/v1/stats/enrollment",
}


def signer(stack: Stack) -> GatewaySigner:
    """Sign as the gateway does (its key file), for calls straight at a service port."""
    key = tokens.signing_key(stack.data_dir)
    return GatewaySigner(key, public_jwk(key.public_key())["kid"])


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
    async with httpx.AsyncClient(base_url=stack.url(where), timeout=10, auth=signer(stack)) as client:
        resp = await client.get(PATH[where], headers=headers)
    assert resp.status_code == 401, (where, kind, resp.text)
    assert resp.headers["content-type"].startswith("application/problem+json")


@pytest.mark.parametrize("where", SERVICES)
async def test_valid_token_accepted_at_service_port(stack: Stack, api: Api, where: str):
    """The control: the same call with the admin's genuine token (and the gateway's signature) passes."""
    async with httpx.AsyncClient(base_url=stack.url(where), timeout=10, auth=signer(stack)) as client:
        resp = await client.get(PATH[where], headers=api.headers)
    assert resp.status_code not in (401, 403), resp.text


async def _status_everywhere(stack: Stack, token: str) -> dict[str, int]:
    async def one(where: str) -> tuple[str, int]:
        async with httpx.AsyncClient(base_url=stack.url(where), timeout=10, auth=signer(stack)) as client:
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


# --- Mutual trust: a service port answers only what the gateway signed ---------------------------------


def sign_for(stack: Stack, method: str, url: str, token: str, *, now: float | None = None, **kw) -> dict:
    """Headers of a request signed as the gateway would sign it (optionally at another time)."""
    request = httpx.Request(method, url, headers={"Authorization": f"Bearer {token}"}, **kw)
    key = tokens.signing_key(stack.data_dir)
    kid = public_jwk(key.public_key())["kid"]
    value = gateway_trust.sign(key, kid, method=method, target=request.url.raw_path,
                               authorization=request.headers["authorization"],
                               length=request.headers.get("content-length"), now=now)
    return {**request.headers, gateway_trust.HEADER: value}


def refused(resp: httpx.Response, status: int, code: str) -> None:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert resp.json()["type"].endswith("/" + code), resp.json()


OWNED_READ = {  # a list each service owns (the gateway sends it there)
    "registry": "/api/v1/schools",
    "subsidy": "/api/v1/subsidy/policies",
    "dropout": "/api/v1/dropout/cases",
    "statistics": "/api/v1/verifications",
}


@pytest.mark.parametrize("where", SERVICES)
async def test_unsigned_plain_read_answered_anything_else_refused(stack: Stack, api: Api, where: str):
    """Without the gateway's signature a port serves a plain read as the gateway would, and refuses a
    write or a reveal before routing it (even on a path where neither exists)."""
    path = OWNED_READ[where]
    via_gateway = await api.client.get(path, headers=api.headers)
    async with httpx.AsyncClient(base_url=stack.url(where), timeout=10) as client:
        read = await client.get(path, headers=api.headers)
        head = await client.head(path, headers=api.headers)
        write = await client.post(path, headers=api.headers, json={})
        reveal = await client.get(path, headers=api.headers, params={"reveal": "true"})
        anonymous = await client.get(path)
    assert read.status_code == via_gateway.status_code == 200, read.text
    if "items" in via_gateway.json():
        assert read.json()["items"] == via_gateway.json()["items"]
    assert head.status_code in (200, 405), head.status_code  # a HEAD is a read too: never gateway_only
    for resp in (write, reveal):
        refused(resp, 403, "gateway_only")
        assert "gateway" in resp.json()["detail"]
    refused(anonymous, 401, "unauthorized")


async def test_county_token_on_the_registry_port_reveals_and_writes_nothing(stack: Stack, world: World):
    """The outside test's finding: a county token read a full ID number there, unaudited, and wrote."""
    county = world.users["county"]
    kid = await world.student("primary", as_=county)
    registry = stack.url("registry")
    async with httpx.AsyncClient(base_url=registry, timeout=10) as direct:
        reveal = await direct.get(f"/api/v1/students/{kid['id']}", params={"reveal": "id_number"},
                                  headers=county.headers)
        write = await direct.post("/api/v1/students", json=world.student_body("primary"), headers=county.headers)
        patch = await direct.patch(f"/api/v1/students/{kid['id']}", headers=county.headers,
                                   json={"version": kid["version"], "name": "改名"})
        reveal_true = await direct.get(f"/api/v1/students/{kid['id']}?reveal=true", headers=county.headers)
        read = await direct.get(f"/api/v1/students/{kid['id']}", headers=county.headers)
    for resp in (reveal, reveal_true, write, patch):
        refused(resp, 403, "gateway_only")
    assert kid["id_number_masked"][:6] not in reveal.text + reveal_true.text
    # A plain read is served there: what the gateway shows the same token, masked.
    assert read.status_code == 200, read.text
    through = await county.ok("GET", f"/api/v1/students/{kid['id']}")
    assert read.json() == through and "id_number" not in {k for k, v in through.items() if v}
    after = await county.ok("GET", f"/api/v1/students/{kid['id']}")
    assert (after["name"], after["version"]) == (kid["name"], kid["version"])
    listed = await county.ok("GET", "/api/v1/students", params={"area_code": world.code, "limit": 500})
    assert len(listed["items"]) == 1
    # The same reveal through the gateway works, and leaves its audit row.
    shown = await county.ok("GET", f"/api/v1/students/{kid['id']}", params={"reveal": "id_number"})
    assert len(shown["id_number"]) == 18
    audit = await county.ok("GET", "/api/v1/audit", params={"target_id": kid["id"], "action": "reveal"})
    assert [e["status"] for e in audit["items"]] == [200]


async def test_forged_expired_and_replayed_signatures_refused(stack: Stack, api: Api):
    registry = stack.url("registry")
    good = sign_for(stack, "GET", f"{registry}/api/v1/schools", api.token)
    async with httpx.AsyncClient(base_url=registry, timeout=10) as direct:
        assert (await direct.get("/api/v1/schools", headers=good)).status_code == 200
        # The same signature again: a replay.
        refused(await direct.get("/api/v1/schools", headers=good), 401, "bad_gateway_signature")
        # Another path, another query, another method, another token: it covers none of them.
        fresh = sign_for(stack, "GET", f"{registry}/api/v1/schools", api.token)
        refused(await direct.get("/api/v1/students", headers=fresh), 401, "bad_gateway_signature")
        fresh = sign_for(stack, "GET", f"{registry}/api/v1/schools", api.token)
        refused(await direct.get("/api/v1/schools?limit=1", headers=fresh), 401, "bad_gateway_signature")
        fresh = sign_for(stack, "GET", f"{registry}/api/v1/areas", api.token)
        refused(await direct.post("/api/v1/areas", headers=fresh, json=[]), 401, "bad_gateway_signature")
        other = tokens.sign(tokens.signing_key(stack.data_dir), fresh["x-gateway-signature"].split(",")[0][4:])
        fresh = sign_for(stack, "GET", f"{registry}/api/v1/schools", api.token)
        refused(await direct.get("/api/v1/schools", headers={**fresh, "authorization": f"Bearer {other}"}),
                401, "bad_gateway_signature")
        # Two minutes old.
        stale = sign_for(stack, "GET", f"{registry}/api/v1/schools", api.token, now=time.time() - 120)
        refused(await direct.get("/api/v1/schools", headers=stale), 401, "bad_gateway_signature")
        # Signed by a key that is not the gateway's (same kid claimed), and garbage.
        forged = gateway_trust.sign(Ed25519PrivateKey.generate(), good["x-gateway-signature"].split(",")[0][4:],
                                    method="GET", target=b"/api/v1/schools",
                                    authorization=f"Bearer {api.token}", length=None)
        refused(await direct.get("/api/v1/schools", headers={**api.headers, "x-gateway-signature": forged}),
                401, "bad_gateway_signature")
        refused(await direct.get("/api/v1/schools", headers={**api.headers, "x-gateway-signature": "t=1"}),
                401, "bad_gateway_signature")
        # Health, readiness and the OpenAPI document need no signature.
        for path in ("/healthz", "/readyz", "/openapi.json"):
            assert (await direct.get(path)).status_code == 200, path


def mac_for(key: bytes, method: str, url: str, token: str, *, now: float | None = None, **kw) -> dict:
    """Headers of a request signed in the v2 form (HMAC under a service's hop key)."""
    request = httpx.Request(method, url, headers={"Authorization": f"Bearer {token}"}, **kw)
    value = gateway_trust.sign_mac(key, method=method, target=request.url.raw_path,
                                   authorization=request.headers["authorization"],
                                   length=request.headers.get("content-length"), now=now)
    return {**request.headers, gateway_trust.HEADER: value}


async def test_the_hop_mac_form_is_checked_like_the_signature(stack: Stack, api: Api):
    """The form the gateway forwards with: the service's own key, the same coverage, the same nonce rule."""
    registry = stack.url("registry")
    settings = Settings(data_dir=stack.data_dir)
    key = gateway_trust.hop_key(settings, "registry")
    write = mac_for(key, "POST", f"{registry}/api/v1/areas", api.token, json=[])
    async with httpx.AsyncClient(base_url=registry, timeout=10) as direct:
        # A write needs the gateway: with a good MAC it is done (an empty batch of areas: 201, none made).
        resp = await direct.post("/api/v1/areas", headers=write, content=b"[]")
        assert (resp.status_code, resp.json()) == (201, []), resp.text
        refused(await direct.post("/api/v1/areas", headers=write, content=b"[]"), 401, "bad_gateway_signature")
        # Unsigned, the same write is refused as not via the gateway.
        refused(await direct.post("/api/v1/areas", headers=api.headers, json=[]), 403, "gateway_only")
        good = mac_for(key, "GET", f"{registry}/api/v1/schools", api.token)
        assert (await direct.get("/api/v1/schools", headers=good)).status_code == 200
        refused(await direct.get("/api/v1/schools", headers=good), 401, "bad_gateway_signature")  # a replay
        fresh = mac_for(key, "GET", f"{registry}/api/v1/schools", api.token)
        refused(await direct.get("/api/v1/schools?limit=1", headers=fresh), 401, "bad_gateway_signature")
        stale = mac_for(key, "POST", f"{registry}/api/v1/areas", api.token, json=[], now=time.time() - 120)
        refused(await direct.post("/api/v1/areas", headers=stale, content=b"[]"), 401, "bad_gateway_signature")
        # Another service's key, and a key the data key did not give: refused.
        for other in (gateway_trust.hop_key(settings, "subsidy"), b"\x00" * 32):
            forged = mac_for(other, "POST", f"{registry}/api/v1/areas", api.token, json=[])
            refused(await direct.post("/api/v1/areas", headers=forged, content=b"[]"), 401, "bad_gateway_signature")
        # A MAC in characters no HMAC has: a clean 401, not a crash.
        odd = {**api.headers, gateway_trust.HEADER: f"t={int(time.time())},n=abc,mac=\u00e9\u00e9".encode("latin-1")}
        refused(await direct.get("/api/v1/schools", headers=odd), 401, "bad_gateway_signature")


async def test_a_client_sent_signature_is_not_forwarded(stack: Stack, api: Api):
    """The gateway signs each request itself; whatever a client sends in the header is dropped."""
    resp = await api.client.get("/api/v1/schools", headers={**api.headers, "x-gateway-signature": "t=1"})
    assert resp.status_code == 200, resp.text


async def test_a_platform_client_keeps_its_restriction(stack: Stack, api: Api):
    client = await api.ok("POST", "/api/v1/clients", 201, json={"name": "省平台(端口)", "area_code": "61"})
    resp = await api.client.post("/api/v1/auth/token", data={
        "grant_type": "client_credentials", "client_id": client["client_id"],
        "client_secret": client["client_secret"]})
    machine = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    # Through the gateway: figures yes, students no.
    assert (await api.client.get("/api/v1/stats/enrollment", headers=machine)).status_code == 200
    refused(await api.client.get("/api/v1/students", headers=machine), 403, "forbidden")
    # Straight at the service ports: nothing at all, not even what the gateway lets it read.
    for where, path in (("registry", "/api/v1/students"), ("registry", "/api/v1/imports"),
                        ("subsidy", "/api/v1/subsidy/disbursements"), ("dropout", "/api/v1/dropout/cases"),
                        ("statistics", "/api/v1/stats/enrollment"), ("registry", "/api/v1/households")):
        async with httpx.AsyncClient(base_url=stack.url(where), timeout=10) as direct:
            refused(await direct.get(path, headers=machine), 403, "gateway_only")


async def test_unsigned_read_of_another_county_is_404_on_the_port(stack: Stack, api: Api, world: World):
    """A direct read shows only what the token sees through the gateway: another county's student is
    404 on the port as it is at the gateway."""
    other = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    theirs = await other.student("primary", as_=other.users["county"])
    county = world.users["county"]
    async with httpx.AsyncClient(base_url=stack.url("registry"), timeout=10) as direct:
        one = await direct.get(f"/api/v1/students/{theirs['id']}", headers=county.headers)
        listed = await direct.get("/api/v1/students", params={"area_code": other.code}, headers=county.headers)
    assert (await county.get(f"/api/v1/students/{theirs['id']}")).status_code == 404
    refused(one, 404, "not_found")
    assert listed.status_code == 200 and listed.json()["items"] == []


# --- The port's own rule for unsigned calls (kit.auth.DirectReads), without a stack -----------------------


def _scope(method: str = "GET", query: bytes = b"") -> dict:
    return {"type": "http", "method": method, "path": "/api/v1/students", "query_string": query}


def _caller(sub: str = "u1", role: Role = Role.county) -> Principal:
    return Principal(sub=sub, username=sub, role=role, area_code="610928")


@pytest.mark.parametrize(
    ("scope", "who"),
    [
        (_scope("POST"), _caller()),
        (_scope("PATCH"), _caller()),
        (_scope("DELETE"), _caller()),
        (_scope("GET", b"reveal=id_number"), _caller()),
        (_scope("GET", b"limit=5&REVEAL=true"), _caller()),
        (_scope("GET"), _caller(role=Role.platform)),
    ],
)
def test_direct_reads_refuse_writes_reveals_and_platform_clients(scope: dict, who: Principal):
    with pytest.raises(NotViaGateway) as refusal:
        DirectReads().admit(scope, who, SimpleNamespace(rate_limit_per_minute=0))
    assert (refusal.value.status, refusal.value.code) == (403, "gateway_only")


def test_direct_reads_count_against_the_per_user_limit():
    reads, limited = DirectReads(), SimpleNamespace(rate_limit_per_minute=3)
    for _ in range(3):
        reads.admit(_scope(), _caller("u1"), limited)
        reads.admit(_scope("HEAD"), _caller("u2"), limited)  # another user: a count of its own
    with pytest.raises(RateLimited) as refusal:
        reads.admit(_scope(), _caller("u1"), limited)
    assert refusal.value.status == 429 and refusal.value.headers["Retry-After"] == "60"
    unlimited = DirectReads()
    for _ in range(100):  # NOL_RATE_LIMIT_PER_MINUTE=0: no limit, as at the gateway
        unlimited.admit(_scope(), _caller("u1"), SimpleNamespace(rate_limit_per_minute=0))
