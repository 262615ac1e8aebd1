"""Access tokens (EdDSA JWTs) and opaque refresh tokens."""

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import jwt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from api_gateway.keys import KeyRing
from services.kit.settings import Settings


def issue_access_token(
    keyring: KeyRing, settings: Settings, *, sub: str, username: str, role: str,
    area_code: str, school_code: str | None, sid: str,
) -> tuple[str, int]:
    """Sign an access token; return it and its lifetime in seconds.

    `sid` names the login session (the refresh-token family), so a logout can revoke it.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    lifetime = settings.access_token_minutes * 60
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "sub": sub,
        "iat": now,
        "nbf": now,
        "exp": now + timedelta(seconds=lifetime),
        "jti": uuid.uuid4().hex,
        "sid": sid,
        "typ": "access",
        "role": role,
        "area_code": area_code,
        "school_code": school_code,
        "username": username,
    }
    token = jwt.encode(claims, keyring.private_key, algorithm="EdDSA", headers={"kid": keyring.kid})
    return token, lifetime


def new_refresh_token() -> tuple[str, str]:
    """Return a fresh opaque refresh token and the hash it is stored under."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


def hash_secret(secret: str) -> str:
    """Return the sha256 (hex) a high-entropy secret is stored under."""
    return hashlib.sha256(secret.encode()).hexdigest()


def _grace_key(refresh_token: str) -> bytes:
    # Derived from the presented token itself: the database holds only its hash, so what is sealed
    # with it can be opened only by whoever holds that token (its rightful client, retrying).
    return hashlib.sha256(b"notoneless/refresh-grace/v1\x00" + refresh_token.encode()).digest()


def seal_successor(refresh_token: str, payload: bytes, *, row_id: uuid.UUID) -> bytes:
    """Encrypt the answer a refresh token was rotated into, under a key only that token opens."""
    nonce = secrets.token_bytes(12)
    return nonce + AESGCM(_grace_key(refresh_token)).encrypt(nonce, payload, row_id.bytes)


def open_successor(refresh_token: str, sealed: bytes, *, row_id: uuid.UUID) -> bytes | None:
    """Return what `seal_successor` sealed, or None if it cannot be opened."""
    try:
        return AESGCM(_grace_key(refresh_token)).decrypt(sealed[:12], sealed[12:], row_id.bytes)
    except (InvalidTag, ValueError):
        return None
