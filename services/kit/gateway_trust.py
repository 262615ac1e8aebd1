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

Two forms of the same header, covering the same fields:

- **`kid=…,t=…,n=…,sig=…`** (v1, above): an Ed25519 signature with the token key. The gateway's
  own calls to services (ops, tasks, the school look-up) and tools use it.
- **`t=…,n=…,mac=…`** (v2): an HMAC-SHA256 over the same fields after the first line
  `nol-gateway-request-v2`, under the hop key of that one service. Every request the gateway
  forwards carries this form: checking an Ed25519 signature cost a service about 0.12 ms of CPU per
  request, more than a tenth of a plain read; an HMAC costs 2 µs.

The hop keys keep v1's rule that a service cannot speak for the gateway to another service. The
gateway holds the hop secret (`NOL_HOP_SECRET`) and derives each service's key from it
(`hop_key`); a service is given only its own key (`NOL_HOP_KEY`, `own_hop_keys`; during a
rotation the new and the old, comma-separated). A service can therefore MAC requests only to
itself, which it could act on anyway, and a MAC made for one service is refused by another. On one
machine with one data dir (`make run`, the tests) both sides derive from `keys/hop.key`, made once,
beside the token key a service could read there just as well. Freshness, the nonce and what is
covered are the same for both forms.
"""

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Awaitable, Callable, Generator

import httpx
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.crypto import derive_key, key_from_text, secret_key
from services.kit.errors import Forbidden, Unauthorized
from services.kit.settings import Settings

HEADER = "x-gateway-signature"
CONTEXT = b"nol-gateway-request-v1"
CONTEXT_MAC = b"nol-gateway-request-v2"
MAC_KID = "-"  # the v2 form names no key: the service's own is the only one
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


def hop_key(settings: Settings, service: str) -> bytes:
    """Return the key the gateway MACs requests to `service` with (v2): derived from the hop secret
    (`NOL_HOP_SECRET`, else `keys/hop.key` in the data dir, made once)."""
    secret = secret_key(settings, settings.hop_secret, "NOL_HOP_SECRET", "hop.key")
    return derive_key(secret, f"gateway-hop/{service}")


def own_hop_keys(settings: Settings, service: str) -> tuple[bytes, ...]:
    """Return the keys a service accepts v2 MACs under: `NOL_HOP_KEY` (its own; `new,old` while
    rotating), else the one `hop_key` gives on this machine."""
    if settings.hop_key:
        given = [k.strip() for k in settings.hop_key.split(",")]
        keys = tuple(key_from_text(k, "NOL_HOP_KEY") for k in given if k)
        if not keys:
            raise ValueError("NOL_HOP_KEY names no key")
        return keys
    return (hop_key(settings, service),)


def message(*, kid: str, t: int, nonce: str, method: str, target: bytes, authorization: str | None,
            length: str | None, context: bytes = CONTEXT) -> bytes:
    """Return the bytes a signature covers (target: the raw path with `?query` when there is one)."""
    token_hash = hashlib.sha256((authorization or "").encode("latin-1")).hexdigest()
    parts = [context, kid.encode(), str(t).encode(), nonce.encode(), method.upper().encode(), target,
             token_hash.encode(), (length or "-").encode()]
    return b"\n".join(parts)


def sign(private_key: Ed25519PrivateKey, kid: str, *, method: str, target: bytes,
         authorization: str | None, length: str | None, now: float | None = None) -> str:
    """Return the X-Gateway-Signature value for one request."""
    t, nonce = int(now if now is not None else time.time()), secrets.token_urlsafe(12)
    signed = message(kid=kid, t=t, nonce=nonce, method=method, target=target,
                     authorization=authorization, length=length)
    return f"kid={kid},t={t},n={nonce},sig={_b64url(private_key.sign(signed))}"


def _mac(key: bytes, signed: bytes) -> str:
    return _b64url(hmac.digest(key, signed, "sha256"))


def sign_mac(key: bytes, *, method: str, target: bytes, authorization: str | None, length: str | None,
             now: float | None = None) -> str:
    """Return the X-Gateway-Signature value of the v2 form (HMAC under the service's hop key)."""
    t, nonce = int(now if now is not None else time.time()), secrets.token_urlsafe(12)
    signed = message(kid=MAC_KID, t=t, nonce=nonce, method=method, target=target,
                     authorization=authorization, length=length, context=CONTEXT_MAC)
    return f"t={t},n={nonce},mac={_mac(key, signed)}"


def _covered(request: httpx.Request) -> dict:
    """What a signature of an outgoing request covers, as the service will read it."""
    raw = {}
    for key, val in request.headers.raw:  # bytes as they go out, decoded as the service will
        raw.setdefault(key.lower(), val.decode("latin-1"))
    return dict(method=request.method, target=request.url.raw_path, authorization=raw.get(b"authorization"),
                length=raw.get(b"content-length"))  # fmt: skip


def sign_httpx(request: httpx.Request, private_key: Ed25519PrivateKey, kid: str) -> httpx.Request:
    """Sign an outgoing request as it stands (URL, Authorization and Content-Length set)."""
    request.headers[HEADER] = sign(private_key, kid, **_covered(request))
    return request


def mac_httpx(request: httpx.Request, key: bytes) -> httpx.Request:
    """MAC an outgoing request as it stands, in the v2 form the gateway forwards with."""
    request.headers[HEADER] = sign_mac(key, **_covered(request))
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
    if set(fields) not in _FORMS or not _TIME.fullmatch(fields["t"]) or not fields["n"]:
        raise BadSignature("Malformed gateway signature")
    return fields


_FORMS = ({"kid", "t", "n", "sig"}, {"t", "n", "mac"})


KeyLookup = Callable[[str], Awaitable[Ed25519PublicKey]]


class SignatureVerifier:
    """Check a request's gateway signature: key, freshness, what it covers, and a nonce seen once."""

    def __init__(self, key_for: KeyLookup, *, mac_keys: tuple[bytes, ...] = (), window: int = WINDOW_SECONDS):
        self.key_for, self.mac_keys, self.window = key_for, mac_keys, window
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
        query = scope.get("query_string", b"")
        target = (scope.get("raw_path") or scope["path"].encode()) + (b"?" + query if query else b"")
        covered = dict(t=int(fields["t"]), nonce=fields["n"], method=scope["method"], target=target,
                       authorization=headers.get("authorization"), length=headers.get("content-length"))
        if "mac" in fields:
            if not self.mac_keys:
                raise BadSignature("Gateway signature of a form this service has no key for")
            signed = message(kid=MAC_KID, context=CONTEXT_MAC, **covered)
            given = fields["mac"].encode("latin-1")
            if not any(hmac.compare_digest(_mac(key, signed).encode(), given) for key in self.mac_keys):
                raise BadSignature("Gateway signature does not match this request")
        else:
            try:
                key = await self.key_for(fields["kid"])
            except Unauthorized as exc:
                raise BadSignature("Gateway signature by an unknown key") from exc
            try:
                key.verify(_unb64url(fields["sig"]), message(kid=fields["kid"], **covered))
            except (InvalidSignature, binascii.Error, ValueError) as exc:
                raise BadSignature("Gateway signature does not match this request") from exc
        self._remember(fields["n"], now)
