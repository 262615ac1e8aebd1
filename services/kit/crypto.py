"""Field and file encryption, keyed lookup hashes and masks for personal identifiers (ID numbers).

A database dump alone must not expose ID numbers: the registry stores them
AES-GCM encrypted, plus an HMAC-SHA256 under a separate derived key for lookup
and uniqueness. The key comes from NOL_DATA_KEY (base64, 32 bytes) or is made
once under NOL_DATA_DIR/keys/data.key. Services that compare ID numbers (the
statistics roster check) use the same keyed hash and never see plaintext.
Uploaded files wait for their job sealed (AES-GCM in 1 MiB segments, 0600), and
text that may quote a cell (row errors, file names) has its ID numbers masked.
"""

import base64
import hashlib
import hmac
import os
import re
import struct
import time
import uuid
from collections.abc import Collection
from functools import lru_cache
from pathlib import Path
from typing import IO

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.hashes import SHA256
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from services.kit.settings import Settings


def _master_key(settings: Settings) -> bytes:
    return secret_key(settings, settings.data_key, "NOL_DATA_KEY", "data.key")


def secret_key(settings: Settings, given: str | None, name: str, file: str) -> bytes:
    """Return a 32-byte secret: the setting `name` when given (base64), else `keys/<file>` in the data
    dir, made once. Read once per process and source: it never changes while a process runs."""
    return _secret_key(given, name, str(settings.data_dir), os.getcwd(), file)


@lru_cache(maxsize=16)
def _secret_key(given: str | None, name: str, data_dir: str, cwd: str, file: str) -> bytes:
    return key_from_text(given, name) if given else stored_key(Path(cwd, data_dir, "keys", file))


def key_from_text(text: str, name: str) -> bytes:
    """Decode a 32-byte key given as base64 (a setting), or raise ValueError naming the setting."""
    try:
        key = base64.b64decode(text)
    except ValueError:  # binascii.Error: bad padding
        key = b""
    if len(key) != 32:
        raise ValueError(f"{name} must be 32 bytes, base64-encoded")
    return key


def stored_key(path: Path) -> bytes:
    """Return the 32-byte key kept in `path` (base64), made once at random by the first process to ask."""
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


def derive_key(master: bytes, purpose: str) -> bytes:
    """Return a 32-byte key for one purpose derived from another key (HKDF-SHA256)."""
    return _derive(master, f"notoneless/{purpose}/v1".encode())


class FieldCipher:
    """Encrypt, decrypt and hash one kind of identifier."""

    def __init__(self, master: bytes):
        self._aead = AESGCM(_derive(master, b"notoneless/id-number/enc/v1"))
        self._mac_key = _derive(master, b"notoneless/id-number/mac/v1")

    def encrypt(self, value: str, context: bytes = b"id_number") -> bytes:
        """Encrypt a value; `context` (the field) must be given again to decrypt it."""
        nonce = os.urandom(12)
        return nonce + self._aead.encrypt(nonce, value.encode(), context)

    def decrypt(self, blob: bytes, context: bytes = b"id_number") -> str:
        return self._aead.decrypt(bytes(blob[:12]), bytes(blob[12:]), context).decode()

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


# Any 18 characters shaped like a resident ID number (GB 11643), wherever they stand in a text.
_ID_SHAPE = re.compile(r"(?=([0-9]{17}[0-9Xx]))")
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def _checks(candidate: str) -> bool:
    return "10X98765432"[sum(int(c) * w for c, w in zip(candidate, _WEIGHTS, strict=False)) % 11] == (
        candidate[17].upper()
    )


def id_numbers_in(text: str) -> list[str]:
    """Return the ID numbers (18 characters with a right check digit) a text holds."""
    if len(text) < 18:
        return []
    return [m for m in _ID_SHAPE.findall(text) if _checks(m)]


def mask_ids(text: str) -> str:
    """Return the text with every ID number in it masked (a cell quoted in a message, a file name)."""
    for value in id_numbers_in(text):
        text = text.replace(value, mask_id_number(value))
    return text


# Sealed files: MAGIC, then per 1 MiB of plaintext: a nonce and the AES-GCM ciphertext, whose associated
# data binds the segment's index and whether it is the last (no segment can be moved or cut off).
MAGIC = b"NOLSEAL1"
SEGMENT = 1 << 20
_RECORD = 12 + SEGMENT + 16


def _segment_aad(index: int, last: bool) -> bytes:
    return b"upload" + struct.pack(">Q?", index, last)


class FileCipher:
    """Seal uploaded files at rest and read them back (whole, or a byte range of the plaintext)."""

    def __init__(self, master: bytes):
        self._master = master
        self._aead = AESGCM(_derive(master, b"notoneless/upload/enc/v1"))

    def __reduce__(self):  # sent to worker processes that read their own ranges
        return (FileCipher, (self._master,))

    def seal(self, source: IO[bytes], path: Path) -> int:
        """Write `source` encrypted to a new file readable by the owner only; return the plaintext size."""
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        total, index = 0, 0
        with os.fdopen(fd, "wb") as out:
            out.write(MAGIC)
            block = source.read(SEGMENT)
            while True:
                following = source.read(SEGMENT) if len(block) == SEGMENT else b""
                nonce = os.urandom(12)
                out.write(nonce + self._aead.encrypt(nonce, block, _segment_aad(index, not following)))
                total += len(block)
                if not following:
                    return total
                block, index = following, index + 1

    def read(self, path: Path) -> bytes:
        """Return a sealed file's plaintext."""
        return self.read_range(path, 0, None)

    def read_range(self, path: Path | str, start: int, end: int | None) -> bytes:
        """Return plaintext bytes [start, end) of a sealed file, decrypting only the segments they lie in."""
        parts, first = [], start // SEGMENT
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a sealed file")
            f.seek(len(MAGIC) + first * _RECORD)
            index, record = first, f.read(_RECORD)
            while record:
                following = f.read(_RECORD) if len(record) == _RECORD else b""
                aad = _segment_aad(index, not following)
                parts.append(self._aead.decrypt(record[:12], record[12:], aad))
                if end is not None and (index + 1) * SEGMENT >= end:
                    break
                record, index = following, index + 1
        base = first * SEGMENT
        if start == base and end is None:
            return b"".join(parts)
        return b"".join(parts)[start - base : None if end is None else end - base]


def file_cipher(settings: Settings) -> FileCipher:
    """Return the cipher of this deployment's sealed uploads."""
    return _file_cipher_for(_master_key(settings))


@lru_cache(maxsize=4)
def _file_cipher_for(key: bytes) -> FileCipher:
    return FileCipher(key)


def sweep_uploads(folder: Path, *, keep: Collection[uuid.UUID], grace_seconds: float) -> list[Path]:
    """Remove files left by jobs that are over (a process died): all but those of `keep`.

    A file named after no job younger than `grace_seconds` may be an upload another process is still
    accepting, so it stays until older.
    """
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    now = time.time()
    for path in folder.iterdir():
        try:
            job_id = uuid.UUID(path.name.split(".")[0])
        except ValueError:
            job_id = None
        if job_id in keep:
            continue
        try:
            if now - path.stat().st_mtime > grace_seconds:
                path.unlink()
                removed.append(path)
        except FileNotFoundError:
            continue
    return removed


def derived_key(settings: Settings, purpose: str) -> bytes:
    """Return a 32-byte key for one purpose, derived from the data key (never the data key itself)."""
    return derive_key(_master_key(settings), purpose)
