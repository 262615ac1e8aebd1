"""Forge tokens for attack tests, with the deployment's real key or without it."""

import base64
import json
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ISSUER, AUDIENCE = "notoneless", "notoneless-api"


def signing_key(data_dir: Path) -> Ed25519PrivateKey:
    return serialization.load_pem_private_key((data_dir / "keys" / "jwt_ed25519.pem").read_bytes(), None)


def claims(**over: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(uuid.uuid4()),
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid.uuid4().hex,
        "typ": "access",
        "role": "county",
        "area_code": "610928",
        "username": "forger",
    }
    base.update(over)
    return {k: v for k, v in base.items() if v is not None}


def kid_of(data_dir: Path, jwks: dict) -> str:
    return jwks["keys"][0]["kid"]


def sign(key: Ed25519PrivateKey, kid: str, **over: Any) -> str:
    return jwt.encode(claims(**over), key, algorithm="EdDSA", headers={"kid": kid})


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def alg_none(kid: str, **over: Any) -> str:
    return f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims(**over))}."


def hs256_with_public_key(public_jwk: dict, kid: str, **over: Any) -> str:
    """The classic confusion attack: HMAC keyed with the public key's bytes."""
    secret = public_jwk["x"].encode()
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    import hashlib
    import hmac

    signing_input = f"{b64(header)}.{b64(claims(**over))}"
    sig = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{base64.urlsafe_b64encode(sig).decode().rstrip('=')}"


def tamper(token: str, **over: Any) -> str:
    """Change the payload of a genuine token, keeping its signature."""
    header, payload, sig = token.split(".")
    body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    body.update(over)
    return f"{header}.{b64(body)}.{sig}"
