"""The revocation list: which access tokens must stop passing before they expire.

A logout, a replayed refresh token, a password change or a disabled account ends a login
session: its `sid` (the refresh-token family, carried by every access token of that login)
is listed. A platform client's tokens carry its current token session, which disabling it
lists and replaces. Only these random ids are published (no user or client ids), for as
long as an access token could still be unexpired, then pruned. The gateway checks its own
copy of the list and every service fetches it from `/.well-known/revocations.json`
(services/kit/revocation.py).
"""

import uuid
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.auth.models import Revocation
from api_gateway.db import now
from services.kit.revocation import Source

# An access token may live at most a day (Settings.access_token_minutes), plus clock leeway.
KEPT = timedelta(days=1, minutes=5)


async def revoke_sessions(session: AsyncSession, sids: Iterable[uuid.UUID], *, reason: str) -> None:
    """List login sessions as revoked (listing one twice changes nothing)."""
    rows = [{"id": uuid.uuid4(), "sid": sid, "reason": reason} for sid in set(sids)]
    if rows:
        stmt = insert(Revocation).values(rows).on_conflict_do_nothing(index_elements=["sid"])
        await session.exec(stmt)
        await _prune(session)


async def _prune(session: AsyncSession) -> None:
    await session.exec(delete(Revocation).where(Revocation.created_at < now() - KEPT))


async def document(session: AsyncSession, *, token_lifetime: timedelta) -> dict[str, Any]:
    """Return the list as published: entries young enough to matter to an unexpired token."""
    since = now() - token_lifetime - timedelta(minutes=1)
    sids = (await session.exec(select(Revocation.sid).where(Revocation.created_at >= since))).all()
    return {"sessions": sorted(str(sid) for sid in sids)}


def database_source(sessionmaker: async_sessionmaker, *, token_lifetime: timedelta) -> Source:
    """The gateway's own copy comes straight from its table."""

    async def fetch() -> dict[str, Any]:
        async with sessionmaker() as session:
            return await document(session, token_lifetime=token_lifetime)

    return fetch
