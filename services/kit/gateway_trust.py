"""Mutual trust between the gateway and the services: the gateway signs what it forwards.

A service answers `/api/` only for requests the gateway signed, so its guarantees (audit of writes
and reveals, rate limit, idempotency, body limit, the platform restriction) cannot be stepped around
by calling a service port with a valid token. The user's token is still verified as before.

`X-Gateway-Signature: kid=<kid>,t=<unix>,n=<nonce>,sig=<base64url Ed25519>` over

    nol-gateway-request-v1 \\n kid \\n t \\n nonce \\n METHOD \\n raw path?query \\n
    sha256(Authorization) \\n Content-Length (or "-")

signed with the gateway's token key (services already hold its public half from the JWKS, so no
new secret is shared; a service can verify but never sign, unlike with a shared HMAC secret). The
first line separates it from a JWT's signing input, which can hold no newline. A signature is
good for `WINDOW_SECONDS` and once per service process (the nonce).

The body is not hashed: the gateway streams uploads of up to 50 MB and hashing them would mean
buffering each whole before forwarding it. What is bound instead is the method, the exact target,
the caller's token and the declared length; replaying a captured signature with another body
would take a token the attacker already holds (so it could use the gateway anyway), the same
length, and the same nonce, which the service has already seen.
"""

import base64
import binascii
import hashlib
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Generator

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.errors import Forbidden, Unauthorized

HEADER = "x-gateway-signature"
CONTEXT = b"nol-gateway-request-v1"
WINDOW_SECONDS = 60


class NotViaGateway(Forbidden):
    code = "gateway_only"


class BadSignature(Unauthorized):
    code = "bad_gateway_signature"

    def __init__(self, detail: str):
        super().__init__(detail, headers={})  # no Bearer challenge: the token is not what failed


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def message(*, kid: str, t: int, nonce: str, method: str, target: bytes, authorization: str | None,
            length: str | None) -> bytes:
    """Return the bytes a signature covers (target: the raw path with `?query` when there is one)."""
    token_hash = hashlib.sha256((authorization or "").encode("latin-1")).hexdigest()
    parts = [CONTEXT, kid.encode(), str(t).encode(), nonce.encode(), method.upper().encode(), target,
             token_hash.encode(), (length or "-").encode()]
    return b"\n".join(parts)


def sign(private_key: Ed25519PrivateKey, kid: str, *, method: str, target: bytes,
         authorization: str | None, length: str | None, now: float | None = None) -> str:
    """Return the X-Gateway-Signature value for one request."""
    t, nonce = int(now if now is not None else time.time()), secrets.token_urlsafe(12)
    signed = message(kid=kid, t=t, nonce=nonce, method=method, target=target,
                     authorization=authorization, length=length)
    return f"kid={kid},t={t},n={nonce},sig={_b64url(private_key.sign(signed))}"


def sign_httpx(request: httpx.Request, private_key: Ed25519PrivateKey, kid: str) -> httpx.Request:
    """Sign an outgoing request as it stands (URL, Authorization and Content-Length set)."""
    raw = {}
    for key, val in request.headers.raw:  # bytes as they go out, decoded as the service will
        raw.setdefault(key.lower(), val.decode("latin-1"))
    request.headers[HEADER] = sign(
        private_key, kid, method=request.method, target=request.url.raw_path,
        authorization=raw.get(b"authorization"), length=raw.get(b"content-length"))
    return request


class GatewaySigner(httpx.Auth):
    """httpx auth that signs every request as the gateway would (internal callers, tests)."""

    def __init__(self, private_key: Ed25519PrivateKey, kid: str):
        self.private_key, self.kid = private_key, kid

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        yield sign_httpx(request, self.private_key, self.kid)


_TIME = re.compile(r"[0-9]{1,12}")  # ASCII digits only ("²".isdigit() is true), a sane length


def parse(value: str) -> dict[str, str]:
    """Return the fields of a signature header, or raise BadSignature."""
    fields = {}
    for part in value.split(","):
        key, eq, val = part.strip().partition("=")
        if not eq or key in fields:
            raise BadSignature("Malformed gateway signature")
        fields[key] = val
    if set(fields) != {"kid", "t", "n", "sig"} or not _TIME.fullmatch(fields["t"]) or not fields["n"]:
        raise BadSignature("Malformed gateway signature")
    return fields


KeyLookup = Callable[[str], Awaitable[Ed25519PublicKey]]


class SignatureVerifier:
    """Check a request's gateway signature: key, freshness, what it covers, and a nonce seen once."""

    def __init__(self, key_for: KeyLookup, *, window: int = WINDOW_SECONDS):
        self.key_for, self.window = key_for, window
        self._seen: dict[str, float] = {}

    def _remember(self, nonce: str, now: float) -> None:
        # Insertion order is expiry order: drop the expired from the front (amortised O(1)).
        while self._seen:
            oldest = next(iter(self._seen))
            if self._seen[oldest] > now:
                break
            del self._seen[oldest]
        if nonce in self._seen:
            raise BadSignature("Gateway signature already used (a replay)")
        self._seen[nonce] = now + 2 * self.window

    async def verify(self, scope: dict) -> None:
        """Return when the request was signed by the gateway; raise NotViaGateway/BadSignature otherwise."""
        headers = {}
        for key, val in scope.get("headers", []):
            headers.setdefault(key.decode("latin-1").lower(), val.decode("latin-1"))
        value = headers.get(HEADER)
        if not value:
            raise NotViaGateway("This port answers only requests forwarded by the gateway: call the gateway")
        fields = parse(value)
        now = time.time()
        if abs(now - int(fields["t"])) > self.window:
            raise BadSignature("Gateway signature expired")
        try:
            key = await self.key_for(fields["kid"])
        except Unauthorized as exc:
            raise BadSignature("Gateway signature by an unknown key") from exc
        query = scope.get("query_string", b"")
        target = (scope.get("raw_path") or scope["path"].encode()) + (b"?" + query if query else b"")
        signed = message(kid=fields["kid"], t=int(fields["t"]), nonce=fields["n"], method=scope["method"],
                         target=target, authorization=headers.get("authorization"),
                         length=headers.get("content-length"))
        try:
            key.verify(_unb64url(fields["sig"]), signed)
        except (InvalidSignature, binascii.Error, ValueError) as exc:
            raise BadSignature("Gateway signature does not match this request") from exc
        self._remember(fields["n"], now)
