"""Tokens: password and client-credentials grants, refresh rotation, lockout, bad tokens, JWKS."""

import base64
import stat

import jwt
import pytest
from sqlalchemy import text

from api_gateway.keys import KEY_FILE, jwk_thumbprint, load_keyring
from api_gateway.tokens import hash_secret, issue_access_token
from services.kit.auth import TokenVerifier
from services.kit.errors import Unauthorized
from tests import tokens

from .conftest import ADMIN_USER, PASSWORD, bearer, login, running, unique

PROBLEM = "application/problem+json"


async def _claims(client, token: str) -> dict:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    header = jwt.get_unverified_header(token)
    key = next(k for k in jwks["keys"] if k["kid"] == header["kid"])
    return jwt.decode(
        token, jwt.PyJWK.from_dict(key), algorithms=["EdDSA"], audience="notoneless-api", issuer="notoneless"
    )


class TestPasswordGrant:
    async def test_ok(self, client, make_user, stack):
        user, _ = await make_user("school", "610928100", "2161000123")
        resp = await login(client, user["username"], PASSWORD)
        assert resp.status_code == 200
        body = resp.json()
        minutes = int(stack.env.get("NOL_ACCESS_TOKEN_MINUTES", "15"))  # the test stack's setting
        assert body["token_type"] == "bearer" and body["expires_in"] == minutes * 60
        assert body["refresh_token"]
        assert jwt.get_unverified_header(body["access_token"])["alg"] == "EdDSA"
        claims = await _claims(client, body["access_token"])
        assert claims["sub"] == user["id"] and claims["typ"] == "access"
        assert claims["role"] == "school" and claims["area_code"] == "610928100"
        assert claims["school_code"] == "2161000123" and claims["username"] == user["username"]
        assert {"iat", "nbf", "exp", "jti"} <= set(claims)

    async def test_bad_password_401(self, client, make_user):
        user, _ = await make_user("county", "610928")
        resp = await login(client, user["username"], "Wrong-pass-1")
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert resp.json()["detail"] == "Invalid username or password"

    async def test_unknown_user_401(self, client):
        resp = await login(client, unique("ghost"), PASSWORD)
        assert resp.status_code == 401
        assert resp.json()["detail"] == "Invalid username or password"

    async def test_disabled_user_401(self, client, admin, make_user):
        user, _ = await make_user("village", "610928100201")
        resp = await client.post(f"/api/v1/users/{user['id']}/disable", headers=admin)
        assert resp.status_code == 200 and resp.json()["disabled"] is True
        assert (await login(client, user["username"], PASSWORD)).status_code == 401

    async def test_missing_password_422(self, client):
        resp = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN_USER}
        )
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["password"]

    async def test_unsupported_grant_422(self, client):
        resp = await client.post("/api/v1/auth/token", data={"grant_type": "implicit"})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["grant_type"]

    async def test_locked_after_five_failures(self, client, make_user):
        user, _ = await make_user("township", "610928100")
        for _ in range(5):
            assert (await login(client, user["username"], "Wrong-pass-1")).status_code == 401
        resp = await login(client, user["username"], PASSWORD)  # even the right password
        assert resp.status_code == 429
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert 0 < int(resp.headers["retry-after"]) <= 300


class TestClientCredentials:
    async def _client(self, client, admin) -> dict:
        resp = await client.post("/api/v1/clients", headers=admin, json={"name": "省平台", "area_code": "61"})
        assert resp.status_code == 201, resp.text
        return resp.json()

    async def test_ok(self, client, admin):
        made = await self._client(client, admin)
        assert "secret_hash" not in made
        resp = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": made["client_id"],
                "client_secret": made["client_secret"],
            },
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        assert "refresh_token" not in body
        claims = await _claims(client, body["access_token"])
        assert claims["role"] == "platform" and claims["sub"] == made["client_id"]
        assert claims["area_code"] == "61"
        me = await client.get("/api/v1/auth/me", headers=bearer(body["access_token"]))
        assert me.json()["role"] == "platform"

    async def test_basic_auth(self, client, admin):
        made = await self._client(client, admin)
        basic = base64.b64encode(f"{made['client_id']}:{made['client_secret']}".encode()).decode()
        resp = await client.post(
            "/api/v1/auth/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {basic}"},
        )
        assert resp.status_code == 200, resp.text

    async def test_bad_secret_401(self, client, admin):
        made = await self._client(client, admin)
        resp = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": made["client_id"],
                "client_secret": "nope",
            },
        )
        assert resp.status_code == 401

    async def test_disabled_client_401(self, client, admin):
        made = await self._client(client, admin)
        resp = await client.post(f"/api/v1/clients/{made['client_id']}/disable", headers=admin)
        assert resp.status_code == 200 and resp.json()["disabled"]
        resp = await client.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": made["client_id"],
                "client_secret": made["client_secret"],
            },
        )
        assert resp.status_code == 401

    async def test_only_admin_creates_clients(self, client, make_user):
        _, county = await make_user("county", "610928")
        resp = await client.post("/api/v1/clients", headers=county, json={"name": "x", "area_code": "610928"})
        assert resp.status_code == 403
        assert (await client.get("/api/v1/clients", headers=county)).status_code == 403

    async def test_list(self, client, admin):
        made = await self._client(client, admin)
        page = (await client.get("/api/v1/clients", params={"limit": 500}, headers=admin)).json()
        assert made["client_id"] in {c["client_id"] for c in page["items"]}
        assert all("client_secret" not in c for c in page["items"])


class TestRefresh:
    async def _tokens(self, client, make_user) -> dict:
        user, _ = await make_user("county", "610928")
        return (await login(client, user["username"], PASSWORD)).json()

    async def test_rotation(self, client, make_user):
        first = await self._tokens(client, make_user)
        resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert resp.status_code == 200, resp.text
        second = resp.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert (
            await client.get("/api/v1/auth/me", headers=bearer(second["access_token"]))
        ).status_code == 200
        # The form body works too.
        resp = await client.post("/api/v1/auth/refresh", data={"refresh_token": second["refresh_token"]})
        assert resp.status_code == 200

    async def test_reuse_revokes_the_family(self, client, make_user, owner_engine):
        first = await self._tokens(client, make_user)
        second = (
            await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        ).json()
        # Past the grace period (NOL_REFRESH_GRACE_SECONDS) a replay is reuse, not a lost answer.
        async with owner_engine.begin() as conn:
            await conn.execute(
                text("UPDATE gateway.refresh_token SET used_at = used_at - interval '61 seconds' "
                     "WHERE token_hash = :h"), {"h": hash_secret(first["refresh_token"])})
        replay = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert replay.status_code == 401
        # The legitimate holder's newer token dies with it.
        resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        assert resp.status_code == 401

    async def test_logout_revokes(self, client, make_user):
        first = await self._tokens(client, make_user)
        resp = await client.post("/api/v1/auth/logout", json={"refresh_token": first["refresh_token"]})
        assert resp.status_code == 204
        resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert resp.status_code == 401

    async def test_garbage_401(self, client):
        resp = await client.post("/api/v1/auth/refresh", json={"refresh_token": "garbage"})
        assert resp.status_code == 401


async def test_me(client, make_user):
    user, headers = await make_user("school", "610928", "2161000999")
    resp = await client.get("/api/v1/auth/me", headers=headers)
    assert resp.status_code == 200
    assert resp.json() == {
        "id": user["id"],
        "username": user["username"],
        "role": "school",
        "area_code": "610928",
        "school_code": "2161000999",
    }


class TestJwks:
    async def test_shape(self, client, settings):
        resp = await client.get("/.well-known/jwks.json")
        assert resp.status_code == 200
        (key,) = resp.json()["keys"]
        assert {k: key[k] for k in ("kty", "crv", "use", "alg")} == {
            "kty": "OKP",
            "crv": "Ed25519",
            "use": "sig",
            "alg": "EdDSA",
        }
        assert key["kid"] == jwk_thumbprint(key)
        assert set(key) == {"kty", "crv", "x", "kid", "use", "alg"}
        path = settings.data_dir / "keys" / KEY_FILE
        assert stat.S_IMODE(path.stat().st_mode) == 0o600

    async def test_key_kept_across_restarts(self, client, settings):
        before = (await client.get("/.well-known/jwks.json")).json()
        async with running(settings) as again:
            assert (await again.get("/.well-known/jwks.json")).json() == before

    async def test_rotation_keeps_old_tokens_valid(self, settings, tmp_path):
        old_settings = settings.model_copy(update={"data_dir": tmp_path})
        old = load_keyring(old_settings)
        token, _ = issue_access_token(
            old, old_settings, sub="u", username="u", role="county", area_code="610928", school_code=None,
            sid="s",
        )
        previous = tmp_path / "keys" / "previous"
        previous.mkdir()
        (tmp_path / "keys" / KEY_FILE).rename(previous / "2026-11.pem")
        new = load_keyring(old_settings)
        assert new.kid != old.kid
        assert [k["kid"] for k in new.jwks()["keys"]] == [new.kid, old.kid]
        claims = await TokenVerifier(old_settings, keys=new.jwks()).verify(token)
        assert claims["sub"] == "u"
        (previous / "2026-11.pem").unlink()
        with pytest.raises(Unauthorized):
            await TokenVerifier(old_settings, keys=load_keyring(old_settings).jwks()).verify(token)


@pytest.fixture(scope="module")
async def forged(client, admin, settings) -> dict[str, str]:
    jwks = (await client.get("/.well-known/jwks.json")).json()
    key, kid = tokens.signing_key(settings.data_dir), jwks["keys"][0]["kid"]
    return {
        "tampered": tokens.tamper(admin["Authorization"][7:], role="county"),
        "alg_none": tokens.alg_none(kid),
        "hs256_public_key": tokens.hs256_with_public_key(jwks["keys"][0], kid),
        "expired": tokens.sign(key, kid, iat=1_700_000_000, nbf=1_700_000_000, exp=1_700_000_300),
        "wrong_audience": tokens.sign(key, kid, aud="someone-else"),
        "wrong_issuer": tokens.sign(key, kid, iss="evil"),
        "no_exp": tokens.sign(key, kid, exp=None),
        "refresh_typed": tokens.sign(key, kid, typ="refresh"),
        "unknown_kid": tokens.sign(key, "not-a-kid"),
        "garbage": "not.a.token",
    }


class TestBadTokens:
    @pytest.mark.parametrize("path", ["/api/v1/auth/me", "/api/v1/students", "/api/v1/users"])
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
            "unknown_kid",
            "garbage",
            "missing",
        ],
    )
    async def test_401(self, client, forged, kind, path):
        headers = {} if kind == "missing" else bearer(forged[kind])
        resp = await client.get(path, headers=headers)
        assert resp.status_code == 401, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert resp.headers["www-authenticate"] == "Bearer"

    async def test_control_genuine_token_passes(self, client, admin, settings):
        key = tokens.signing_key(settings.data_dir)
        kid = (await client.get("/.well-known/jwks.json")).json()["keys"][0]["kid"]
        resp = await client.get("/api/v1/auth/me", headers=bearer(tokens.sign(key, kid)))
        assert resp.status_code == 200
