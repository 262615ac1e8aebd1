"""Field encryption and keyed lookup hashes for personal identifiers (ID numbers).

A database dump alone must not expose ID numbers: the registry stores them
AES-GCM encrypted, plus an HMAC-SHA256 under a separate derived key for lookup
and uniqueness. The key comes from NOL_DATA_KEY (base64, 32 bytes) or is made
once under NOL_DATA_DIR/keys/data.key. Services that compare ID numbers (the
statistics roster check) use the same keyed hash and never see plaintext.
"""

import base64
import hashlib
import hmac
import os
from functools import lru_cache
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.kit.settings import Settings


def _master_key(settings: Settings) -> bytes:
    if settings.data_key:
        key = base64.b64decode(settings.data_key)
        if len(key) != 32:
            raise ValueError("NOL_DATA_KEY must be 32 bytes, base64-encoded")
        return key
    path = settings.data_dir / "keys" / "data.key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{path}.{os.getpid()}.tmp")
        tmp.write_bytes(base64.b64encode(os.urandom(32)))
        tmp.chmod(0o600)
        try:
            os.link(tmp, path)  # atomic: the first process to create it wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    return base64.b64decode(path.read_bytes())


def _derive(master: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=SHA256(), length=32, salt=None, info=purpose).derive(master)


class FieldCipher:
    """Encrypt, decrypt and hash one kind of identifier."""

    def __init__(self, master: bytes):
        self._aead = AESGCM(_derive(master, b"notoneless/id-number/enc/v1"))
        self._mac_key = _derive(master, b"notoneless/id-number/mac/v1")

    def encrypt(self, value: str) -> bytes:
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), b"id_number")

    def decrypt(self, blob: bytes) -> str:
        return self._aead.decrypt(bytes(blob[:12]), bytes(blob[12:]), b"id_number").decode()

    def lookup_hash(self, value: str) -> str:
        """Return the keyed hash (hex) used for lookup and uniqueness."""
        return hmac.new(self._mac_key, value.upper().encode(), hashlib.sha256).hexdigest()


@lru_cache(maxsize=4)
def _cipher_for(key: bytes) -> FieldCipher:
    return FieldCipher(key)


def id_cipher(settings: Settings) -> FieldCipher:
    """Return the ID-number cipher of this deployment."""
    return _cipher_for(_master_key(settings))


def mask_id_number(value: str) -> str:
    """Mask an ID number: first 6 and last 4 characters shown."""
    return value[:6] + "*" * (len(value) - 10) + value[-4:] if len(value) > 10 else "*" * len(value)


def mask_student_number(value: str) -> str:
    """Mask a national student number (学籍号): it is usually G + the ID number, so mask it alike."""
    return value[:7] + "*" * (len(value) - 11) + value[-4:] if len(value) > 11 else value
