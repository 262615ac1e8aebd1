"""Engines and sessions: each service talks to its own schema as its own role."""

import functools
import time
from collections.abc import AsyncIterator, Mapping
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import Executable, MetaData, event
from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.barrier import FreshProjection
from services.kit.rls import ScopedConnection, WalledSession, fetch_walled, forget_scope, release
from services.kit.settings import Settings

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def service_metadata(schema: str) -> MetaData:
    """Return a MetaData bound to one schema, with named constraints."""
    return MetaData(schema=schema, naming_convention=NAMING_CONVENTION)


def async_url(url: str | URL) -> URL:
    """Return the URL with the asyncpg driver."""
    return make_url(str(url) if isinstance(url, URL) else url).set(drivername="postgresql+asyncpg")


def role_name(settings: Settings, service: str) -> str:
    return f"{settings.db_role_prefix}{service}"


def service_url(settings: Settings, service: str) -> URL:
    """Return the URL a service connects with: its own role, never the owner's."""
    assert settings.database_url, "NOL_DATABASE_URL must be set (the launcher sets it)"
    url = async_url(settings.database_url).set(username=role_name(settings, service))
    return url.set(password=settings.db_role_password)


def asyncpg_dsn(url: URL) -> str:
    """Return a plain libpq-style DSN (for asyncpg.connect / LISTEN)."""
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


# A pooled connection idle longer than this is pinged before it is handed out (see make_engine).
PING_IDLE_SECONDS = 1.0


def make_engine(
    url: URL,
    *,
    pool_size: int = 10,
    application_name: str = "notoneless",
    server_settings: dict[str, str] | None = None,
) -> AsyncEngine:
    """Create the async engine for a service.

    Connections are pinged before use only when they sat idle in the pool for more than
    `PING_IDLE_SECONDS`: SQLAlchemy's `pool_pre_ping` pings at every checkout, and the asyncpg ping
    is BEGIN + `;` + ROLLBACK, three round trips on every request (a third of a plain read's time
    under load). A database restart (a failover) takes longer than that, so the connections it broke
    are still found and replaced before a request meets them; one that breaks while in use answers
    a clean 503 (kit.errors.database_unavailable).

    The pool keeps up to `2 * pool_size` connections and never closes one for being surplus: with
    SQLAlchemy's overflow, a connection returned while `pool_size` sat idle was closed, and under a
    steady 10-30 concurrent requests the service connected, introspected types, prepared its
    statements and disconnected again many times a second (about a tenth of a plain read's CPU, and a
    backend start in PostgreSQL each time). The ceiling is the same as before.

    `server_settings` are the service's own session settings (e.g. `work_mem`), set once per
    connection: they hold for reads in autocommit too, where a transaction-local setting would not.
    """
    engine = create_async_engine(
        url,
        pool_size=2 * pool_size,
        max_overflow=0,
        pool_recycle=1800,
        # A walled transaction's scope travels with its BEGIN (kit.rls.ScopedConnection).
        connect_args={
            "server_settings": {**(server_settings or {}), "application_name": application_name},
            "connection_class": ScopedConnection,
        },
    )
    event.listen(engine.sync_engine.pool, "checkin", _note_idle)
    event.listen(engine.sync_engine.pool, "checkout", _ping_if_idle)
    return engine


def _note_idle(dbapi_connection: Any, record: Any) -> None:
    if dbapi_connection is not None:
        forget_scope(dbapi_connection)
    if record is not None:
        record.info["idle_since"] = time.monotonic()


def _ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
    since = record.info.get("idle_since")
    try:
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            dbapi_connection.ping()  # else just made, or busy a moment ago
        # A read's scope left on the connection is cleared unless a walled session takes it (kit.rls).
        release(dbapi_connection)
    except Exception as exc:
        # The pool drops this connection and hands out a fresh one (up to three tries).
        raise DisconnectionError(f"stale pooled connection: {exc!r}") from exc


SAFE_METHODS = frozenset({"GET", "HEAD"})


def sessionmaker_for(engine: AsyncEngine, *, walled: bool = True) -> async_sessionmaker[AsyncSession]:
    """Return the session factory; a walled session sets its scope in each transaction (kit.rls).

    A walled factory has `reads` beside it: the same sessions in autocommit, for safe requests
    (`get_session`): no BEGIN, no COMMIT, the scope held by the connection (kit.rls.hold).
    """
    extra = {"sync_session_class": WalledSession} if walled else {}
    maker = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False, **extra)
    if walled:
        reads = engine.execution_options(isolation_level="AUTOCOMMIT")
        maker.reads = async_sessionmaker(reads, class_=AsyncSession, expire_on_commit=False, **extra)  # type: ignore[attr-defined]
    return maker


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    """Yield the request's session: one transaction, committed on success, rolled back on error.

    A GET or HEAD (safe: it writes nothing) reads in autocommit instead, one round trip a statement
    (each statement sees the data committed when it starts, as in a READ COMMITTED transaction).
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    if request.method in SAFE_METHODS:
        maker = getattr(maker, "reads", maker)
    async with maker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        # Committed: the client may wait for this write's events elsewhere (X-Event-Position).
        request.state.event_position = session.info.get("event_position")


_ASYNCPG = asyncpg_dialect()


@functools.lru_cache(maxsize=512)
def _compiled(statement: Executable) -> tuple[str, tuple[str, ...]]:
    compiled = statement.compile(dialect=_ASYNCPG)
    return str(compiled), tuple(compiled.positiontup or ())


async def read_walled(request: Request, statement: Executable, params: Mapping[str, Any]) -> list[Any]:
    """The rows of one SELECT, read behind the wall in the caller's scope: one round trip, no session.

    For a hot read (one record by id) whose columns go straight into the response: the statement is
    compiled once, so build it once, with bind parameters (`params` by name), not literal values.
    The rows are asyncpg records (by column name), with the database's own types: no ORM objects,
    no result processing (a column whose type converts its values needs the session). The wall is
    the same as any read's (kit.rls.fetch_walled); the statement keeps its own scope filter too.
    """
    sql, names = _compiled(statement)
    pool = request.app.state.engine.sync_engine.pool
    return await fetch_walled(pool, sql, [params[name] for name in names])


async def get_snapshot_session(request: Request, _: FreshProjection) -> AsyncIterator[AsyncSession]:
    """Wait for the projections (kit.barrier), then yield a session reading one snapshot (REPEATABLE READ).

    For decisions that read a projection in several statements (a batch's lines, then its
    exclusions): every statement sees the same students, so no child falls between two of them,
    and the snapshot is taken only after every acknowledged write has been applied.
    """
    maker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with maker() as session:
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        request.state.event_position = session.info.get("event_position")


# scope="function": commit before the response is sent, so a client never reads
# a response for a write that then fails to commit.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
SnapshotSessionDep = Annotated[AsyncSession, Depends(get_snapshot_session, scope="function")]
