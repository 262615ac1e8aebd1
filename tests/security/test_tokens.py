"""Bad tokens are refused with 401 at the gateway and at every service port."""

import httpx
import pytest

from services.kit.settings import SERVICES
from services.kit.stack import Stack
from tests import tokens
from tests.helpers import Api

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
