"""HTTP caching and conditional writes: `ETag`, `If-None-Match` → 304, `If-Match` → 412, gzip.

Every `200` JSON answer to a GET carries an `ETag`: a hash of its bytes, so it changes whenever
anything the caller sees changes (a projection, a masked field, a new version). A GET whose
`If-None-Match` names it gets `304 Not Modified` with no body: a phone on a weak network reloads a
student for a few hundred bytes.

A write (PATCH, PUT, DELETE, or a POST transition such as `…/batches/{id}/approve`) that sends
`If-Match` with such an ETag is checked against the resource as the caller would read it now
(`GET` of the same path, or of the path without its last part for a POST): another ETag is
`412 Precondition Failed`. When it matches, the resource's `version` is passed on as `If-Match`, so the
existing optimistic check (kit.versioning) still decides atomically in the write's own transaction;
a write that loses that race is 412 too. `If-Match` holding a bare version number (`3`, `W/"3"`)
is the existing mechanism and goes through untouched (a stale one stays 409 `stale_version`).
"""

import hashlib
import json
import re
from collections.abc import Callable

from starlette.middleware.gzip import DEFAULT_EXCLUDED_CONTENT_TYPES, GZipMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.kit.errors import problem

# Answers larger than this stream through without an ETag (exports, files).
HASH_UP_TO = 2 * 1024 * 1024
GZIP_MINIMUM = 1024
_VERSION_ONLY = re.compile(r'^(W/)?"?\d+"?$')
CHANGED = "The record has changed since the ETag given in If-Match; reload and try again"
NOT_COMPRESSED = (
    *DEFAULT_EXCLUDED_CONTENT_TYPES,
    "application/pdf",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
)


def gzip(app: ASGIApp) -> GZipMiddleware:
    """Compress answers above 1 KB for clients that accept gzip (not files already compressed)."""
    return GZipMiddleware(
        app, minimum_size=GZIP_MINIMUM, compresslevel=6, exclude_content_types=NOT_COMPRESSED
    )


def etag_of(body: bytes) -> str:
    """Return the (strong) entity tag of a representation."""
    return '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _tags(value: str) -> list[str]:
    return [t.strip().removeprefix("W/") for t in value.split(",") if t.strip()]


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", []):
        if key == name:
            return value.decode("latin-1")
    return None


def _content_type(headers: list[tuple[bytes, bytes]]) -> str:
    for key, value in headers:
        if key.lower() == b"content-type":
            return value.decode("latin-1")
    return ""


async def _run(app: ASGIApp, scope: Scope) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
    """Run a body-less request through the app and return its whole answer."""
    status, headers, body = 500, [], bytearray()

    async def receive() -> Message:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: Message) -> None:
        nonlocal status, headers
        if message["type"] == "http.response.start":
            status, headers = message["status"], list(message.get("headers", []))
        elif message["type"] == "http.response.body":
            body.extend(message.get("body", b""))

    await app(scope, receive, send)
    return status, headers, bytes(body)


class ConditionalMiddleware:
    """ETag on GET answers, 304 on `If-None-Match`, 412 on a write whose `If-Match` is stale."""

    def __init__(self, app: ASGIApp, applies: Callable[[str], bool] | None = None):
        self.app = app
        self.applies = applies or (lambda path: True)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.applies(scope["path"]):
            await self.app(scope, receive, send)
        elif scope["method"] == "GET":
            await self._read(scope, receive, send)
        elif scope["method"] in ("PATCH", "PUT", "DELETE", "POST") and _header(scope, b"if-match"):
            await self._write(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def _read(self, scope: Scope, receive: Receive, send: Send) -> None:
        held: Message | None = None
        body = bytearray()

        async def _send(message: Message) -> None:
            nonlocal held
            if message["type"] == "http.response.start":
                headers = message.get("headers", [])
                length = next((v for k, v in headers if k.lower() == b"content-length"), None)
                if (
                    message["status"] == 200
                    and _content_type(headers).startswith("application/json")
                    and length is not None
                    and int(length) <= HASH_UP_TO
                    and not any(k.lower() == b"etag" for k, _ in headers)
                ):
                    held = message
                    return
            elif message["type"] == "http.response.body" and held is not None:
                body.extend(message.get("body", b""))
                if message.get("more_body", False):
                    return
                await self._answer(scope, send, held, bytes(body))
                return
            await send(message)

        await self.app(scope, receive, _send)

    async def _answer(self, scope: Scope, send: Send, start: Message, body: bytes) -> None:
        tag = etag_of(body)
        wanted = _header(scope, b"if-none-match")
        headers = [(k, v) for k, v in start.get("headers", [])]
        headers.append((b"etag", tag.encode()))
        if wanted and (wanted.strip() == "*" or tag in _tags(wanted)):
            kept = [(k, v) for k, v in headers if k.lower() not in (b"content-length", b"content-type")]
            await send({"type": "http.response.start", "status": 304, "headers": kept})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        await send({**start, "headers": headers})
        await send({"type": "http.response.body", "body": body, "more_body": False})

    async def _write(self, scope: Scope, receive: Receive, send: Send) -> None:
        given = _header(scope, b"if-match") or ""
        if _VERSION_ONLY.match(given.strip()):
            await self.app(scope, receive, send)  # a version number: kit.versioning decides
            return
        path = scope["path"]
        if scope["method"] == "POST":
            path = path.rstrip("/").rsplit("/", 1)[0]
        skip = (b"if-match", b"if-none-match", b"content-length", b"content-type", b"idempotency-key")
        read_scope = {
            **scope,
            "method": "GET",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "headers": [(k, v) for k, v in scope["headers"] if k not in skip],
            "state": dict(scope.get("state", {})),
        }
        status, _, body = await _run(self.app, read_scope)
        without = [(k, v) for k, v in scope["headers"] if k != b"if-match"]
        if status != 200:
            await self.app({**scope, "headers": without}, receive, send)  # the write answers (404 …)
            return
        current = etag_of(body)
        if given.strip() != "*" and current not in _tags(given):
            await problem(412, CHANGED, code="precondition_failed", headers={"ETag": current})(
                scope, receive, send
            )
            return
        version = _version_of(body)
        if version is None:
            await self.app({**scope, "headers": without}, receive, send)
            return
        headers = [*without, (b"if-match", str(version).encode())]
        await self.app({**scope, "headers": headers}, receive, _stale_is_412(scope, receive, send))


def _version_of(body: bytes) -> int | None:
    try:
        value = json.loads(body).get("version")
    except (ValueError, AttributeError):
        return None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _stale_is_412(scope: Scope, receive: Receive, send: Send) -> Send:
    """A write whose If-Match matched but lost the race to another (409 stale_version) is 412."""
    held: Message | None = None
    body = bytearray()

    async def _send(message: Message) -> None:
        nonlocal held
        if message["type"] == "http.response.start" and message["status"] == 409:
            held = message
            return
        if held is not None and message["type"] == "http.response.body":
            body.extend(message.get("body", b""))
            if message.get("more_body", False):
                return
            if b"stale_version" in body:
                await problem(412, CHANGED, code="precondition_failed")(scope, receive, send)
            else:
                await send(held)
                await send({"type": "http.response.body", "body": bytes(body), "more_body": False})
            return
        await send(message)

    return _send
