"""Token verification (EdDSA, JWKS from the gateway), the caller, and scope."""

import asyncio
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any
from urllib.parse import unquote_plus

import httpx
import jwt
import structlog
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from fastapi import Depends, Request

from services.kit import rls
from services.kit.errors import Forbidden, RateLimited, Unauthorized
from services.kit.gateway_trust import NotViaGateway, SignatureVerifier
from services.kit.revocation import RevocationList
from services.kit.settings import Settings

log = structlog.get_logger()
REQUIRED_CLAIMS = ["exp", "iat", "iss", "aud", "sub"]
# Verified tokens are remembered this long (seconds), at most this many (kit.auth.TokenVerifier.verify).
VERIFIED_FOR = 30.0
VERIFIED_MAX = 10_000


class Role(StrEnum):
    admin = "admin"
    county = "county"
    township = "township"
    school = "school"
    village = "village"
    platform = "platform"


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller, as the token says."""

    sub: str
    username: str
    role: Role
    area_code: str
    school_code: str | None = None
    token_id: str | None = None

    @property
    def is_machine(self) -> bool:
        return self.role is Role.platform

    def covers_area(self, code: str | None) -> bool:
        """Return whether an area code lies inside the caller's area (prefix rule)."""
        return bool(code) and code.startswith(self.area_code)


class TokenVerifier:
    """Verify access tokens against the gateway's JWKS (cached; unknown kid refetches, rate-limited)."""

    def __init__(
        self,
        settings: Settings,
        *,
        keys: dict[str, Any] | None = None,
        refetch_interval: float = 10.0,
        revocations: RevocationList | None = None,
    ):
        self.settings = settings
        self.revocations = revocations
        self.jwks_url = settings.resolved_jwks_url
        self._keys: dict[str, jwt.PyJWK] = {}
        self._static = keys is not None
        if keys is not None:
            self._load(keys)
        self._last_fetch = 0.0
        self._refetch_interval = refetch_interval
        self._lock = asyncio.Lock()
        self._verified: dict[str, tuple[float, Mapping[str, Any]]] = {}

    def _load(self, jwks: dict[str, Any]) -> None:
        keys = {}
        for key in jwks.get("keys", []):
            try:
                pk = jwt.PyJWK.from_dict(key)
            except jwt.PyJWTError:
                continue
            if key.get("kid") and key.get("crv") == "Ed25519":
                keys[key["kid"]] = pk
        self._keys = keys

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._last_fetch < self._refetch_interval and self._keys:
                return
            self._last_fetch = time.monotonic()
            try:
                async with httpx.AsyncClient(timeout=5.0) as client:
                    resp = await client.get(self.jwks_url)
                    resp.raise_for_status()
                    self._load(resp.json())
            except (httpx.HTTPError, ValueError) as exc:
                log.warning("jwks fetch failed", url=self.jwks_url, error=str(exc))

    async def _key_for(self, kid: str) -> jwt.PyJWK:
        if kid not in self._keys and not self._static:
            await self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized("Unknown signing key")
        return key

    async def public_key(self, kid: str) -> Ed25519PublicKey:
        """Return the gateway's public key `kid` (it also signs forwarded requests: kit.gateway_trust)."""
        return (await self._key_for(kid)).key

    async def verify(self, token: str, *, expected_type: str = "access") -> Mapping[str, Any]:
        """Return the claims of a valid token, or raise Unauthorized.

        A token verified a moment ago is not parsed and checked again (an Ed25519 check and the JSON
        of the claims are most of the cost of an authenticated read): its claims are kept, by the
        whole token, for `VERIFIED_FOR` seconds and never past its expiry. The revocation list is
        consulted on every request all the same.
        """
        cached = self._verified.get(token)
        if cached is not None and cached[0] > time.time():
            claims = cached[1]
        else:
            claims = await self._verify(token)
            if len(self._verified) >= VERIFIED_MAX:
                self._verified.clear()  # plenty of room for every caller active within VERIFIED_FOR
            until = min(time.time() + VERIFIED_FOR, float(claims["exp"]) + 5)
            self._verified[token] = (until, claims)
        if claims.get("typ") != expected_type:
            raise Unauthorized("Wrong token type")
        if self.revocations is not None and await self.revocations.revoked(claims):
            raise Unauthorized("Token revoked (logged out or access withdrawn)")
        return claims

    async def _verify(self, token: str) -> Mapping[str, Any]:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise Unauthorized("Malformed token") from exc
        if header.get("alg") != "EdDSA" or not isinstance(header.get("kid"), str):
            raise Unauthorized("Token algorithm not accepted")
        key = await self._key_for(header["kid"])
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["EdDSA"],
                audience=self.settings.jwt_audience,
                issuer=self.settings.jwt_issuer,
                options={"require": REQUIRED_CLAIMS},
                leeway=5,
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("Token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("Invalid token") from exc
        return MappingProxyType(claims)


def principal_from_claims(claims: Mapping[str, Any]) -> Principal:
    """Build the caller from verified claims."""
    try:
        return Principal(
            sub=str(claims["sub"]),
            username=str(claims.get("username") or claims["sub"]),
            role=Role(claims["role"]),
            area_code=str(claims["area_code"]),
            school_code=claims.get("school_code"),
            token_id=claims.get("jti"),
        )
    except (KeyError, ValueError) as exc:
        raise Unauthorized("Token lacks role or area") from exc


def bearer_token(request: Request) -> str:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized()
    return token.strip()


async def authenticate(request: Request) -> Principal:
    """Verify the bearer token and return the caller."""
    verifier: TokenVerifier = request.app.state.verifier
    claims = await verifier.verify(bearer_token(request))
    return principal_from_claims(claims)


async def current_principal(request: Request) -> Principal:
    """Return the caller (verified once per request, by the middleware or here)."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        principal = await authenticate(request)
        request.state.principal = principal
        rls.enter(rls.scope_for(principal))  # a route outside /api/: the wall all the same
    return principal


def _asks_reveal(scope: dict) -> bool:
    """Whether the query names `reveal` in any spelling the app would read (%72eveal, REVEAL, +)."""
    raw = scope.get("query_string", b"").decode("latin-1")
    names = (unquote_plus(part.partition("=")[0]).strip().lower() for part in raw.split("&"))
    return any("reveal" in name for name in names) or "reveal" in unquote_plus(raw).lower()


class DirectReads:
    """What a service port serves without the gateway: plain reads, under the same per-user limit.

    Everything the gateway must see — writes (audit, idempotency, body limit), reveals of ID numbers
    (audit), platform clients (their restriction lives in the gateway's routing) — needs the gateway's
    signature (kit.gateway_trust). A plain read changes nothing and shows only what the caller's token
    already entitles it to through the gateway, so it may come straight to the port (monitoring, the
    side-by-side benchmark), counted against the caller's per-minute limit in this process.
    """

    SAFE = ("GET", "HEAD")

    def __init__(self) -> None:
        self._window, self._counts = 0, {}

    def admit(self, scope: dict, principal: "Principal", settings: Settings) -> None:
        """Let a direct request through, or raise NotViaGateway / RateLimited."""
        if scope["method"] not in self.SAFE or principal.role is Role.platform or _asks_reveal(scope):
            raise NotViaGateway(
                "Plain reads only on this port: writes, reveals and platform clients go through the gateway"
            )
        limit = settings.rate_limit_per_minute
        if not limit:
            return
        window = int(time.monotonic() // 60)
        if window != self._window:
            self._window, self._counts = window, {}
        count = self._counts.get(principal.sub, 0) + 1
        self._counts[principal.sub] = count
        if count > limit:
            raise RateLimited("Too many requests; slow down", headers={"Retry-After": "60"})


class RequireTokenMiddleware:
    """Refuse every /api/ request not forwarded by the gateway or without a valid token, before routing
    (even unknown paths). Outside /api/ (health, readiness, the OpenAPI document) nothing is needed."""

    def __init__(self, app, prefix: str = "/api/"):
        self.app, self.prefix = app, prefix
        self._signatures: SignatureVerifier | None = None
        self.direct = DirectReads()

    def signatures(self, scope) -> SignatureVerifier:
        if self._signatures is None:  # the token verifier is made in the app's lifespan
            state = scope["app"].state
            self._signatures = SignatureVerifier(state.verifier.public_key, mac_keys=state.hop_keys)
        return self._signatures

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http" and scope["path"].startswith(self.prefix):
            request = Request(scope)
            try:
                try:
                    await self.signatures(scope).verify(scope)
                    direct = False
                except NotViaGateway:
                    direct = True
                principal = await authenticate(request)
                if direct:
                    self.direct.admit(scope, principal, scope["app"].state.settings)
            except (Unauthorized, Forbidden, RateLimited) as exc:
                from services.kit.errors import problem

                await problem(exc.status, exc.detail, code=exc.code, headers=exc.headers)(
                    scope, receive, send
                )
                return
            scope.setdefault("state", {})["principal"] = principal
            # The database walls this request's transactions to the caller's scope (kit.rls).
            with rls.acting_as(rls.scope_for(principal)):
                await self.app(scope, receive, send)
            return
        await self.app(scope, receive, send)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(*roles: Role):
    """Return a dependency that admits only the given roles."""
    allowed = frozenset(roles)

    async def _check(principal: CurrentPrincipal) -> Principal:
        if principal.role not in allowed:
            raise Forbidden(f"Role '{principal.role}' may not do this")
        return principal

    return _check


STAFF = (Role.admin, Role.county, Role.township, Role.school, Role.village)
WRITERS = (Role.admin, Role.county, Role.school)
