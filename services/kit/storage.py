"""Object storage behind one interface, and short-lived signed links to what it holds.

`ObjectStore` keeps opaque blobs under keys (`put`, `get`, `delete`). Two stores implement it:
`FileStore`, files under the data dir (0600, written whole then renamed into place: a reader
never sees half a file), the embedded default; and `S3Store`, any S3-compatible server (MinIO
in docker/compose.yaml), chosen when NOL_S3_ENDPOINT is set. Callers name keys; the store knows
nothing of what the bytes are.

`LinkSigner` makes links that work without a token, for one path and until a time: an HMAC of
the path and the expiry under a key derived from the data key (kit.crypto.derived_key). A link
cannot be stretched (the expiry is signed) or turned to another file (so is the path).
"""

import asyncio
import hashlib
import hmac
import io
import os
import re
import time
from pathlib import Path
from typing import Protocol

from services.kit.crypto import derived_key
from services.kit.settings import Settings

_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,250}$")


class MissingObject(LookupError):
    """No object under that key."""


def _checked(key: str) -> str:
    if not _KEY.match(key) or ".." in key or "//" in key:
        raise ValueError(f"bad object key {key!r}")
    return key


class ObjectStore(Protocol):
    async def put(self, key: str, data: bytes, *, content_type: str) -> None: ...

    async def get(self, key: str) -> bytes: ...

    async def delete(self, key: str) -> None: ...


class FileStore:
    """Objects as files under a folder readable by the service's user only."""

    def __init__(self, root: Path):
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / _checked(key)

    def _write(self, key: str, data: bytes) -> None:
        path = self._path(key)
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)

    def _read(self, key: str) -> bytes:
        try:
            return self._path(key).read_bytes()
        except FileNotFoundError:
            raise MissingObject(key) from None

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await asyncio.to_thread(self._write, key, data)

    async def get(self, key: str) -> bytes:
        return await asyncio.to_thread(self._read, key)

    async def delete(self, key: str) -> None:
        await asyncio.to_thread(self._path(key).unlink, missing_ok=True)


class S3Store:
    """Objects in a bucket of an S3-compatible server (miniopy-async); the bucket is made if missing."""

    def __init__(self, settings: Settings):
        from miniopy_async import Minio

        self.bucket = settings.s3_bucket
        self.client = Minio(
            settings.s3_endpoint or "",
            access_key=settings.s3_access_key,
            secret_key=settings.s3_secret_key,
            secure=settings.s3_secure,
            region=settings.s3_region,
        )
        self._ready = False

    async def _bucket(self) -> None:
        if not self._ready:
            if not await self.client.bucket_exists(self.bucket):
                await self.client.make_bucket(self.bucket)
            self._ready = True

    async def put(self, key: str, data: bytes, *, content_type: str) -> None:
        await self._bucket()
        await self.client.put_object(
            self.bucket, _checked(key), io.BytesIO(data), len(data), content_type=content_type
        )

    async def get(self, key: str) -> bytes:
        from miniopy_async.error import S3Error

        try:
            response = await self.client.get_object(self.bucket, _checked(key))
        except S3Error as exc:
            if exc.code in ("NoSuchKey", "NoSuchBucket"):
                raise MissingObject(key) from None
            raise
        try:
            return await response.read()
        finally:
            response.release()

    async def delete(self, key: str) -> None:
        await self.client.remove_object(self.bucket, _checked(key))


def object_store(settings: Settings) -> ObjectStore:
    """Return the deployment's store: S3-compatible when NOL_S3_ENDPOINT is set, else the data dir."""
    if settings.s3_endpoint:
        return S3Store(settings)
    return FileStore(settings.data_dir / "objects")


class LinkSigner:
    """Sign and check links to one path that expire."""

    def __init__(self, key: bytes, *, seconds: int):
        self.key, self.seconds = key, seconds

    @classmethod
    def of(cls, settings: Settings) -> "LinkSigner":
        return cls(derived_key(settings, "links"), seconds=settings.link_seconds)

    def signature(self, path: str, expires: int) -> str:
        return hmac.new(self.key, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def sign(self, path: str, *, now: float | None = None) -> tuple[int, str]:
        """Return (expires, signature) of a link to `path` valid from now for the configured time."""
        expires = int(now if now is not None else time.time()) + self.seconds
        return expires, self.signature(path, expires)

    def valid(self, path: str, expires: int, signature: str, *, now: float | None = None) -> bool:
        """Whether a link is this signer's for this path and has not expired."""
        good = hmac.compare_digest(self.signature(path, expires), signature or "")
        return good and expires >= int(now if now is not None else time.time())
