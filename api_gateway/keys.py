"""Ed25519 signing keys: the current one signs, previous public keys stay in the JWKS for overlap.

The current key signs tokens and the gateway's own calls to services (ops, tasks, the school
look-up: the v1 form of kit.gateway_trust). Requests the gateway forwards are not signed with it:
they carry an HMAC under the hop key of the service they go to (the v2 form).

The private key comes from NOL_JWT_PRIVATE_KEY (PEM) or is made once under
NOL_DATA_DIR/keys/jwt_ed25519.pem (mode 0600) and reused on restart. To rotate,
move the old PEM to keys/previous/ and restart: tokens it signed keep verifying
until they expire, then the file can go.
"""

import base64
import hashlib
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from services.kit.gateway_trust import GatewaySigner, sign_httpx
from services.kit.settings import Settings

KEY_FILE = "jwt_ed25519.pem"


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """Return the RFC 7638 thumbprint of an OKP key (sha256 over crv, kty, x in order)."""
    members = {"crv": jwk["crv"], "kty": jwk["kty"], "x": jwk["x"]}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True).encode()
    return _b64url(hashlib.sha256(canonical).digest())


def public_jwk(public_key: Ed25519PublicKey) -> dict[str, str]:
    """Return the public JWK of a key, with its thumbprint as `kid`."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    jwk = {"kty": "OKP", "crv": "Ed25519", "x": _b64url(raw)}
    return {**jwk, "kid": jwk_thumbprint(jwk), "use": "sig", "alg": "EdDSA"}


@dataclass(frozen=True)
class KeyRing:
    """The signing key, its kid, and every public key tokens may still be signed with."""

    private_key: Ed25519PrivateKey
    kid: str
    public_keys: list[dict[str, str]] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [dict(k) for k in self.public_keys]}

    def sign(self, request: httpx.Request) -> httpx.Request:
        """Sign a request for a service (services answer only what the gateway signed)."""
        return sign_httpx(request, self.private_key, self.kid)

    def signer(self) -> GatewaySigner:
        """Return httpx auth signing every request of a client (internal callers, tests)."""
        return GatewaySigner(self.private_key, self.kid)


def _private_from_pem(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the JWT signing key must be an Ed25519 private key")
    return key


def _create_key_file(path: Path) -> None:
    """Write a new key without ever leaving it readable by others; the first writer wins."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, pem)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        os.link(tmp, path)  # atomic; fails if another worker got there first
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)


def _previous_public_keys(folder: Path) -> list[Ed25519PublicKey]:
    keys = []
    for pem_file in sorted(folder.glob("*.pem")) if folder.is_dir() else []:
        pem = pem_file.read_bytes()
        if b"PRIVATE KEY" in pem:
            keys.append(_private_from_pem(pem).public_key())
            continue
        key = serialization.load_pem_public_key(pem)
        if not isinstance(key, Ed25519PublicKey):
            raise ValueError(f"{pem_file} is not an Ed25519 key")
        keys.append(key)
    return keys


def load_keyring(settings: Settings) -> KeyRing:
    """Load (or create once) the signing key and collect the previous public keys."""
    folder = settings.data_dir / "keys"
    if settings.jwt_private_key:
        private = _private_from_pem(settings.jwt_private_key.encode())
    else:
        path = folder / KEY_FILE
        if not path.exists():
            _create_key_file(path)
        private = _private_from_pem(path.read_bytes())
    current = public_jwk(private.public_key())
    public = [current]
    for key in _previous_public_keys(folder / "previous"):
        jwk = public_jwk(key)
        if jwk["kid"] not in {k["kid"] for k in public}:
            public.append(jwk)
    return KeyRing(private_key=private, kid=current["kid"], public_keys=public)
