"""Failed-login throttling that nobody can use to shut another person out.

Two counters per username as typed (known or not, so the answers never tell them apart):
- `pair:<username>|<ip>`: five failures from one client IP lock that IP out of that username for
  five minutes (a guesser from one place);
- `user:<username>`: past a soft limit of failures from anywhere, each further attempt waits a
  short, capped back-off (a guesser from many places is slowed to a crawl, while the owner, from
  an IP of their own, at worst waits a few seconds and is never locked out).
Both forget failures older than the window. A successful login clears its pair; enabling a user
clears every lock of the username.
"""

import math
from datetime import timedelta

from sqlalchemy import case, delete, null, or_, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.auth.models import LoginFailure
from api_gateway.db import now

PAIR_LIMIT = 5
PAIR_LOCK = timedelta(minutes=5)
SOFT_LIMIT = 20
MAX_BACKOFF_SECONDS = 10
WINDOW = timedelta(minutes=15)
T = LoginFailure.__table__


def _pair(username: str, ip: str) -> str:
    return f"pair:{username}|{ip}"[:200]


def _user(username: str) -> str:
    return f"user:{username}"[:200]


def backoff(failures: int) -> float:
    """Seconds between attempts on a username past the soft limit (doubling, capped)."""
    if failures < SOFT_LIMIT:
        return 0.0
    return float(min(2 ** (failures - SOFT_LIMIT), MAX_BACKOFF_SECONDS))


async def wait_seconds(session: AsyncSession, *, username: str, ip: str) -> int:
    """Return how long this IP must wait before trying this username (0: go ahead)."""
    rows = (await session.execute(select(LoginFailure).where(
        LoginFailure.key.in_([_pair(username, ip), _user(username)])))).scalars().all()
    at, wait = now(), 0.0
    for row in rows:
        if row.key.startswith("pair:") and row.locked_until and row.locked_until > at:
            wait = max(wait, (row.locked_until - at).total_seconds())
        elif row.key.startswith("user:") and row.updated_at > at - WINDOW:
            wait = max(wait, (row.updated_at + timedelta(seconds=backoff(row.failures)) - at).total_seconds())
    return math.ceil(wait) if wait > 0 else 0


async def _bump(session: AsyncSession, key: str) -> int:
    at = now()
    stale = T.c.updated_at < at - WINDOW
    stmt = insert(T).values(key=key, failures=1, updated_at=at)
    stmt = stmt.on_conflict_do_update(index_elements=[T.c.key], set_={
        "failures": _if(stale, 1, T.c.failures + 1), "updated_at": at,
        "locked_until": _if(stale, None, T.c.locked_until)}).returning(T.c.failures)
    return (await session.execute(stmt)).scalar_one()


def _if(condition, then, otherwise):
    return case((condition, then if then is not None else null()), else_=otherwise)


async def record_failure(session: AsyncSession, *, username: str, ip: str) -> None:
    """Count a failed login for the pair and the username; lock the pair at its limit."""
    await _bump(session, _user(username))
    if await _bump(session, _pair(username, ip)) >= PAIR_LIMIT:
        await session.execute(T.update().where(T.c.key == _pair(username, ip)).values(
            failures=0, locked_until=now() + PAIR_LOCK))


async def clear_pair(session: AsyncSession, *, username: str, ip: str) -> None:
    """Forget the failures of this username from this IP (after a successful login)."""
    await session.execute(delete(T).where(T.c.key == _pair(username, ip)))


async def clear_locks(session: AsyncSession, *, username: str) -> None:
    """Forget every failure and lock of a username (an admin enabled the account)."""
    await session.execute(delete(T).where(or_(
        T.c.key == _user(username), T.c.key.startswith(f"pair:{username}|", autoescape=True))))
