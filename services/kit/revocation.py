"""Revoked sessions, as every port that verifies tokens knows them.

Access tokens are short-lived JWTs checked without calling the gateway, so a logout
would otherwise leave them valid until they expire. The gateway keeps a revocation
list, like a certificate revocation list: the sessions (`sid`: one per login, or a platform
client's tokens until it is disabled) whose access tokens must no longer pass, for as long
as such a token could still be unexpired.
It publishes the list at `/.well-known/revocations.json`; each service keeps a copy,
refetched when a token is checked and the copy is older than `NOL_REVOCATION_POLL_SECONDS`
(in the background, so a request never waits for it, unless the copy is several times
too old), so a revocation holds everywhere within about two poll intervals and an idle
service costs nothing. The gateway reads its own table the same way and
refreshes at once after a revocation it made itself.

If the list cannot be fetched, the last copy stays in force and the failure is logged:
an outage of the gateway must not lock every county out of the services.
"""

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import structlog

log = structlog.get_logger()

# A copy older than max_age is refreshed in the background; one older than this many
# max_ages (a service idle for a while) is refreshed before the token is judged.
STALE_FACTOR = 5

Source = Callable[[], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Revoked:
    """One copy of the list: the revoked session ids."""

    sessions: frozenset[str] = frozenset()

    @classmethod
    def from_document(cls, doc: dict[str, Any]) -> "Revoked":
        return cls(frozenset(str(s) for s in doc.get("sessions", [])))

    def covers(self, claims: dict[str, Any]) -> bool:
        """Return whether a token with these (verified) claims is revoked."""
        return claims.get("sid") is not None and str(claims["sid"]) in self.sessions


class RevocationList:
    """A copy of the gateway's revocation list, refreshed when older than `max_age` seconds."""

    def __init__(self, source: Source, *, max_age: float):
        self._source, self._max_age = source, max_age
        self._revoked = Revoked()
        self._fetched = float("-inf")
        self._lock = asyncio.Lock()
        self._pending: asyncio.Task | None = None

    def invalidate(self) -> None:
        """Make the next check fetch the list again (after a revocation made here)."""
        self._fetched = float("-inf")

    async def _refresh(self) -> None:
        async with self._lock:
            if time.monotonic() - self._fetched < self._max_age:
                return
            started = time.monotonic()
            try:
                self._revoked = Revoked.from_document(await self._source())
            except Exception as exc:  # the last copy stays in force
                log.warning("revocation list fetch failed", error=str(exc) or type(exc).__name__)
            self._fetched = started

    async def _current(self) -> Revoked:
        age = time.monotonic() - self._fetched
        if age >= self._max_age * STALE_FACTOR:
            await self._refresh()  # first use, or idle for long: wait for a fresh copy
        elif age >= self._max_age and (self._pending is None or self._pending.done()):
            # Slightly stale: answer from the copy at hand, refresh off the request's path.
            self._pending = asyncio.get_running_loop().create_task(self._refresh())
        return self._revoked

    async def revoked(self, claims: dict[str, Any]) -> bool:
        return (await self._current()).covers(claims)


def http_source(url: str, *, timeout: float = 3.0) -> Source:
    """Fetch the list from the gateway over HTTP (one pooled client per process)."""
    client: httpx.AsyncClient | None = None

    async def fetch() -> dict[str, Any]:
        nonlocal client
        if client is None:
            client = httpx.AsyncClient(timeout=timeout)
        resp = await client.get(url)
        resp.raise_for_status()
        return resp.json()

    return fetch
