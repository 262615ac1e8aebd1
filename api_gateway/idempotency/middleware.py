"""Apply `Idempotency-Key` to every POST under /api/v1, the gateway's own and forwarded alike."""

import asyncio
import hashlib
import re
from collections.abc import Awaitable, Callable
from datetime import timedelta

import anyio.to_thread
import structlog
from starlette.types import ASGIApp, Receive, Scope, Send

from api_gateway.asgi import (
    BufferedResponse,
    header,
    principal_of,
    read_body,
    replay_receive,
    run_buffered,
)
from api_gateway.idempotency.store import IdempotencyStore
from services.kit.errors import problem

log = structlog.get_logger()

KEY_PATTERN = re.compile(r"^[\x21-\x7e]{1,255}$")
# Tokens are secrets and logins are not resources: no replays there.
EXEMPT = ("/api/v1/auth/",)
KEY_LOC = ["header", "Idempotency-Key"]
# Set by a route whose answer holds a secret (not `Cache-Control: no-store`: every API answer has it).
SECRET_HEADER = b"x-secret-shown-once"
# A response marked with SECRET_HEADER carries a secret shown once (a new client's secret):
# it is never kept. Its key is settled with this refusal instead, so a retry neither repeats the
# creation nor sees the secret again.
SECRET_NOT_KEPT = (
    b'{"type":"about:blank","title":"Conflict","status":409,"code":"idempotent_secret_not_kept",'
    b'"detail":"The request with this Idempotency-Key succeeded, but its response held a secret shown '
    b'only once and was not kept; list the resource to find it, or create a new one"}'
)


async def _digest(body: bytes) -> str:
    if len(body) < 1 << 20:
        return hashlib.sha256(body).hexdigest()
    return await anyio.to_thread.run_sync(lambda: hashlib.sha256(body).hexdigest())


class IdempotencyMiddleware:
    """Replay the stored response for a retried key; refuse a reused key with another body."""

    def __init__(self, app: ASGIApp, *, abandon_after: float):
        self.app = app
        self.abandon_after = abandon_after
        self._store: IdempotencyStore | None = None
        self._settling: set[asyncio.Task] = set()

    def store(self, scope: Scope) -> IdempotencyStore:
        if self._store is None:
            days = scope["app"].state.settings.idempotency_keep_days
            self._store = IdempotencyStore(scope["app"].state.engine,
                                           abandon_after=self.abandon_after, keep=timedelta(days=days))
        return self._store

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        key = header(scope, b"idempotency-key") if scope["type"] == "http" else None
        principal = principal_of(scope) if key is not None else None
        if (principal is None or scope["method"] != "POST"
                or not scope["path"].startswith("/api/v1/") or scope["path"].startswith(EXEMPT)):
            await self.app(scope, receive, send)
            return
        if not KEY_PATTERN.match(key):
            await problem(422, "Idempotency-Key must be 1-255 printable ASCII characters",
                          code="invalid", errors=[{"loc": KEY_LOC, "msg": "invalid key",
                                                   "code": "invalid"}])(scope, receive, send)
            return
        body = await read_body(receive)
        ids = {"sub": principal.sub, "key": key}
        store = self.store(scope)
        claim = await store.claim(**ids, method="POST", path=scope["path"],
                                  digest=await _digest(body))
        if claim.outcome == "mismatch":
            msg = "This Idempotency-Key was used with a different request"
            await problem(422, msg, code="idempotency_key_reused", errors=[
                {"loc": KEY_LOC, "msg": msg, "code": "reused"}])(scope, receive, send)
        elif claim.outcome == "in_progress":
            await problem(409, "A request with this Idempotency-Key is still in progress",
                          code="idempotency_in_progress",
                          headers={"Retry-After": "1"})(scope, receive, send)
        elif claim.outcome == "replay":
            replay = BufferedResponse(status=claim.status or 200, body=bytearray(claim.body))
            if claim.content_type:
                replay.headers.append((b"content-type", claim.content_type.encode("latin-1")))
            await replay.send_to(send, [(b"idempotent-replayed", b"true")])
        else:
            await self._first(scope, replay_receive(body, receive), send, store, ids)

    async def _first(self, scope: Scope, receive: Receive, send: Send,
                     store: IdempotencyStore, ids: dict[str, str]) -> None:
        try:
            response = await run_buffered(self.app, scope, receive)
        except BaseException:
            await self._settle(lambda: store.release(**ids))
            raise
        if response.status >= 500:
            await self._settle(lambda: store.release(**ids))
        elif response.header(SECRET_HEADER):
            await self._settle(lambda: store.complete(
                **ids, status=409, body=SECRET_NOT_KEPT, content_type="application/problem+json"))
        else:
            await self._settle(lambda: store.complete(
                **ids, status=response.status, body=bytes(response.body),
                content_type=response.header(b"content-type")))
        await response.send_to(send)

    async def _settle(self, write: Callable[[], Awaitable[None]]) -> None:
        """Record the outcome; while the database is down, keep trying in the background."""
        try:
            await write()
        except Exception as exc:
            log.warning("idempotency key not settled; retrying in the background", error=repr(exc))
            task = asyncio.create_task(self._settle_later(write))
            self._settling.add(task)
            task.add_done_callback(self._settling.discard)

    async def _settle_later(self, write: Callable[[], Awaitable[None]]) -> None:
        delay, waited = 0.5, 0.0
        while waited + delay < self.abandon_after / 2:  # after that a retry takes the key over anyway
            await asyncio.sleep(delay)
            waited += delay
            try:
                await write()
                return
            except Exception:  # still unreachable: try again (each second: a client that got
                delay = min(delay * 2, 1.0)  # 409 idempotency_in_progress is told Retry-After: 1)
