"""Claiming, completing and releasing idempotency keys."""

import time
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from api_gateway.db import now
from api_gateway.idempotency.models import IdempotencyKey

KEEP = timedelta(days=7)  # the default of `idempotency_keep_days`: an offline phone's queue waits
SWEEP_SECONDS = 600
T = IdempotencyKey.__table__


@dataclass(frozen=True, slots=True)
class Claim:
    """The outcome of claiming a key: `new`, `replay`, `mismatch` or `in_progress`."""

    outcome: str
    status: int | None = None
    body: bytes = b""
    content_type: str | None = None


class IdempotencyStore:
    def __init__(self, engine: AsyncEngine, *, abandon_after: float, keep: timedelta = KEEP):
        self.engine = engine
        self.keep = keep  # answers are replayed this long; the sweep deletes older keys
        # A pending row older than this was left by a crashed request; a retry may take it over.
        self.abandon_after = timedelta(seconds=abandon_after)
        self._next_sweep = 0.0

    async def claim(self, *, sub: str, key: str, method: str, path: str, digest: str) -> Claim:
        """Insert a pending row, or report what an earlier request with the key left."""
        await self._sweep()
        values = {"principal_sub": sub, "key": key, "method": method, "path": path,
                  "request_hash": digest, "created_at": now()}
        async with self.engine.begin() as conn:
            stmt = insert(T).values(**values).on_conflict_do_nothing().returning(T.c.key)
            if (await conn.execute(stmt)).first() is not None:
                return Claim("new")
            where = (T.c.principal_sub == sub) & (T.c.key == key)
            row = (await conn.execute(select(T).where(where).with_for_update())).mappings().first()
            if row is None or self._expired(row):
                # Gone or stale since our insert failed: take it over.
                await conn.execute(delete(T).where(where))
                await conn.execute(insert(T).values(**values))
                return Claim("new")
        if row["request_hash"] != digest or row["path"] != path or row["method"] != method:
            return Claim("mismatch")
        if row["status"] is None:
            return Claim("in_progress")
        return Claim("replay", status=row["status"], body=bytes(row["response_body"] or b""),
                     content_type=row["response_content_type"])

    def _expired(self, row) -> bool:
        age = now() - row["created_at"]
        return age > self.keep or (row["status"] is None and age > self.abandon_after)

    async def complete(self, *, sub: str, key: str, status: int, body: bytes,
                       content_type: str | None) -> None:
        """Store the response a replay will return."""
        async with self.engine.begin() as conn:
            await conn.execute(
                update(T).where(T.c.principal_sub == sub, T.c.key == key).values(
                    status=status, response_body=body, response_content_type=content_type,
                    completed_at=now()))

    async def release(self, *, sub: str, key: str) -> None:
        """Forget a key whose request failed, so a retry can run it again."""
        async with self.engine.begin() as conn:
            await conn.execute(delete(T).where(T.c.principal_sub == sub, T.c.key == key))

    async def _sweep(self) -> None:
        if time.monotonic() < self._next_sweep:
            return
        self._next_sweep = time.monotonic() + SWEEP_SECONDS
        async with self.engine.begin() as conn:
            await conn.execute(delete(T).where(T.c.created_at < now() - self.keep))
