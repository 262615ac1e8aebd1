"""The second wall: PostgreSQL row-level security keyed on the caller's scope.

Every scoped table has `ENABLE` + `FORCE ROW LEVEL SECURITY` and one policy, `wall` (see
`wall_ddl`), that admits a row only inside the scope the current transaction carries in three
settings, set with `set_config(..., true)` (transaction-local) at the start of every transaction:

    nol.scope   system | area | school | village   (anything else, or unset: no row at all)
    nol.area    the caller's area code (a prefix; a village user's is its village)
    nol.school  the school user's school code

So a query that forgets its `visible_to(principal)` filter still returns nothing outside the
caller's area. The application's own filters stay the first wall (they also narrow further: roles,
a school's households, ...); this one only has to contain mistakes.

Where the scope comes from: `RequireTokenMiddleware` puts the caller's `Scope` in a context
variable for the whole /api/ request; every session made by `sessionmaker_for` sets it when its
transaction begins (`after_begin`). Outside a request (event consumers, the relay, lifespan jobs)
the variable holds `SYSTEM`: every row. Tasks copy the context they are started from, so a
background job started by a request would inherit the caller's scope: start such jobs with
`system_task()` (imports, verification jobs and projection rebuilds run as the service, applying
the caller's scope themselves where they must). A statement that must look across scopes on
purpose (one ID number = one student deployment-wide; a transfer to a school in another county)
runs inside `async with as_system(session):`, which is greppable and documented at each use.

Walls (the DDL helpers below; one Alembic revision per service): `rows()` for records with their
own area/school/village codes, `lineage()` for areas (the caller's subtree and its ancestors),
`child_of()` for rows seen where their parent is. Cases, placements and home-teaching sessions
carry their student's codes (kept by triggers) so their lists need no per-row look-up. Reference
data (school names, calendars, published policies, year locks) is not walled.

Cost: no round trip of its own (the settings travel with the transaction's BEGIN:
`ScopedConnection`) and a cheap per-row check (each setting is read
once per statement).

Reads (GET, HEAD: `kit.db.get_session`) run in autocommit, with no BEGIN or COMMIT: a plain read is
then one round trip. Their scope is held by the connection at session level (`set_config(...,
false)`), set only when it is not the one the connection already holds (`hold`); the connection
remembers what it holds. Whatever takes a pooled connection next, other than a walled session (which
states its own scope: at BEGIN, or by `hold`), gets it cleared first (`release`, at checkout), so no
caller's scope is ever seen outside a walled session of its own; a set or clear that was
interrupted (an error, a cancellation) leaves the connection marked unknown, which is cleared or
set again before the next use, never trusted.

Scope filters must use `within()` (`^@`), not LIKE: a LIKE filter is not leakproof, so under a
policy PostgreSQL may no longer drive an index with it. `bench/rls.py` measures the wall on the
list queries.

The service roles (`nol_<service>`) own nothing, so FORCE is belt and braces: even the owner is
walled unless it is a superuser (migrations run as one, and state the system scope anyway). The
settings are not a secret: this wall contains forgotten filters, not SQL injection (which the
parameterised queries prevent).
"""

import asyncio
import contextlib
import contextvars
import re
from collections.abc import AsyncIterator, Coroutine, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import asyncpg
from sqlalchemy import Boolean, event, text
from sqlmodel import Session

KINDS = ("area", "school", "village")


@dataclass(frozen=True, slots=True)
class Scope:
    """What the database lets a transaction see: `system` (everything) or one caller's wall."""

    kind: str
    area: str = ""
    school: str = ""


SYSTEM = Scope("system")
_current: contextvars.ContextVar[Scope] = contextvars.ContextVar("nol_db_scope", default=SYSTEM)


def scope_for(principal: Any) -> Scope:
    """Return the database scope of a caller (a `kit.auth.Principal`): its school, village or area."""
    if principal.role == "school":
        return Scope("school", principal.area_code, principal.school_code or "")
    if principal.role == "village":
        return Scope("village", principal.area_code)
    return Scope("area", principal.area_code)


def current_scope() -> Scope:
    return _current.get()


@contextlib.contextmanager
def acting_as(scope: Scope) -> Iterator[None]:
    """Run the enclosed code (and the sessions it opens) in a scope."""
    token = _current.set(scope)
    try:
        yield
    finally:
        _current.reset(token)


def enter(scope: Scope) -> None:
    """Put the rest of the current task (a request) in a scope."""
    _current.set(scope)


def system_task(coro: Coroutine[Any, Any, Any], *, name: str | None = None) -> asyncio.Task:
    """Start a background task in the system context, never in the scope of the request that started it."""
    ctx = contextvars.copy_context()
    ctx.run(_current.set, SYSTEM)
    return asyncio.create_task(coro, name=name, context=ctx)


# For a connection of its own (asyncpg.connect(..., server_settings=...)): the system scope for its life.
SYSTEM_SETTINGS = {"nol.scope": "system"}

_SET = text(
    "SELECT set_config('nol.scope', :kind, true), set_config('nol.area', :area, true), "
    "set_config('nol.school', :school, true)"
)


def _params(scope: Scope) -> dict[str, str]:
    return {"kind": scope.kind, "area": scope.area, "school": scope.school}


# Set while a walled session takes a connection: it states its own scope (kit.rls.release).
_walled: contextvars.ContextVar[bool] = contextvars.ContextVar("nol_walled_checkout", default=False)


class WalledSession(Session):
    """A session whose every transaction starts by setting the scope of the code that opened it."""

    def _connection_for_bind(self, engine: Any, execution_options: Any = None, **kw: Any) -> Any:
        token = _walled.set(True)
        try:
            return super()._connection_for_bind(engine, execution_options, **kw)
        finally:
            _walled.reset(token)


@event.listens_for(WalledSession, "after_begin")
def _set_scope(session: Session, transaction: Any, connection: Any) -> None:
    scope = session.info.get("scope") or _current.get()
    if hold(connection, scope):
        return
    params = _params(scope)
    if not _with_begin(connection, params):
        connection.execute(_SET, params)


class ScopedConnection(asyncpg.Connection):
    """An asyncpg connection that can send a transaction's scope with its BEGIN, in one round trip.

    `kit.db.make_engine` connects with it. When a walled session begins, the scope is left on the
    connection (`_with_begin`) instead of costing a statement of its own; the BEGIN the driver sends
    before the transaction's first statement carries it (`BEGIN …; SELECT set_config(…)`: one simple
    query, so the scope is in force before any statement of the transaction runs). Whatever the
    connection does not use is dropped when it goes back to the pool (`forget_scope`).
    """

    _nol_scope: str | None = None
    # The scope held at session level (autocommit reads): None = none, UNKNOWN = not known.
    _nol_held: Scope | None = None

    async def execute(self, query: str, *args: Any, timeout: float | None = None) -> str:  # noqa: ASYNC109
        if self._nol_scope is not None and not args and query.startswith("BEGIN"):
            query, self._nol_scope = f"{query} {self._nol_scope}", None
        return await super().execute(query, *args, timeout=timeout)


_LITERAL = re.compile(r"^[A-Za-z0-9_-]*$")


def _with_begin(connection: Any, params: dict[str, str]) -> bool:
    """Leave the scope for the coming BEGIN, if the transaction has not begun on the server yet."""
    adapted = getattr(connection.connection, "dbapi_connection", None)
    raw = getattr(adapted, "_connection", None)
    if (
        not isinstance(raw, ScopedConnection)
        or getattr(adapted, "_transaction", True) is not None  # BEGIN already sent
        or getattr(adapted, "isolation_level", "autocommit") == "autocommit"  # no BEGIN will come
        or not all(_LITERAL.match(v) for v in params.values())
    ):
        return False
    raw._nol_scope = (
        f"SELECT set_config('nol.scope', '{params['kind']}', true), "
        f"set_config('nol.area', '{params['area']}', true), "
        f"set_config('nol.school', '{params['school']}', true);"
    )
    return True


UNKNOWN = Scope("unknown")  # a set or clear of the held scope did not finish: clear or set it again
_HOLD = text(
    "SELECT set_config('nol.scope', :kind, false), set_config('nol.area', :area, false), "
    "set_config('nol.school', :school, false)"
)
_RELEASE = (
    "SELECT set_config('nol.scope', '', false), set_config('nol.area', '', false), "
    "set_config('nol.school', '', false)"
)


def _autocommit_raw(connection: Any) -> "ScopedConnection | None":
    """The ScopedConnection under a SQLAlchemy connection in autocommit, else None."""
    adapted = getattr(connection.connection, "dbapi_connection", None)
    raw = getattr(adapted, "_connection", None)
    if isinstance(raw, ScopedConnection) and getattr(adapted, "isolation_level", None) == "autocommit":
        return raw
    return None


def hold(connection: Any, scope: Scope) -> bool:
    """In autocommit (a read), put `scope` on the connection at session level; False outside autocommit.

    No round trip when the connection already holds it. The connection is marked unknown while the
    settings travel, so an interrupted set is never taken for done.
    """
    raw = _autocommit_raw(connection)
    if raw is None:
        return False
    if raw._nol_held != scope:
        raw._nol_held = UNKNOWN
        connection.execute(_HOLD, _params(scope))
        raw._nol_held = scope
    return True


def release(dbapi_connection: Any) -> None:
    """Pool checkout: clear a held scope unless a walled session is taking the connection.

    A walled session states its own scope (at BEGIN, which overrides the held one for the
    transaction, or by `hold`); anything else (an unwalled session, `engine.connect()`, the relay)
    must see no caller's scope, so the settings are cleared first. Raises if they cannot be.
    """
    raw = getattr(dbapi_connection, "_connection", None)
    if not isinstance(raw, ScopedConnection) or raw._nol_held is None or _walled.get():
        return
    from sqlalchemy.util import await_

    raw._nol_held = UNKNOWN
    await_(asyncpg.Connection.execute(raw, _RELEASE))
    raw._nol_held = None


_HOLD_RAW = (
    "SELECT set_config('nol.scope', $1, false), set_config('nol.area', $2, false), "
    "set_config('nol.school', $3, false)"
)


async def fetch_walled(pool: Any, sql: str, args: Sequence[Any], scope: Scope | None = None) -> list[Any]:
    """Run one read-only statement (asyncpg SQL) on a pooled connection, behind the wall, in autocommit.

    The fast lane of a hot read (`kit.db.read_walled`): no session, no ORM, one round trip when the
    connection already holds the scope (`scope`, by default the current one), two when it must be
    set. The connection is taken as a walled session takes it (it states its own scope) and goes
    back to the pool holding it, like any read's; one interrupted midway (cancelled, connection
    lost) is closed, never reused.
    """
    from sqlalchemy.util import greenlet_spawn

    scope = scope or _current.get()
    token = _walled.set(True)
    try:
        fairy = await greenlet_spawn(pool.connect)
    finally:
        _walled.reset(token)
    try:
        raw = fairy.dbapi_connection._connection
        if not isinstance(raw, ScopedConnection):
            raise TypeError("fetch_walled needs an engine made by kit.db.make_engine (ScopedConnection)")
        if raw._nol_held != scope:
            raw._nol_held = UNKNOWN
            await raw.fetchval(_HOLD_RAW, scope.kind, scope.area, scope.school)
            raw._nol_held = scope
        rows = await raw.fetch(sql, *args)
    except asyncpg.PostgresError:
        await greenlet_spawn(fairy.close)  # refused by the server: the connection itself is sound
        raise
    except BaseException as exc:
        fairy.invalidate(exc)  # no I/O: the connection is dropped, not returned
        raise
    await greenlet_spawn(fairy.close)
    return rows


def forget_scope(dbapi_connection: Any) -> None:
    """Drop a scope a connection did not use (pool check-in)."""
    raw = getattr(dbapi_connection, "_connection", None)
    if isinstance(raw, ScopedConnection):
        raw._nol_scope = None


def _apply(connection: Any, scope: Scope) -> None:
    if not hold(connection, scope):  # autocommit: the held scope; else this transaction's
        connection.execute(_SET, _params(scope))


async def _switch(session: Any, scope: Scope) -> None:
    await (await session.connection()).run_sync(_apply, scope)


@contextlib.asynccontextmanager
async def as_system(session: Any) -> AsyncIterator[None]:
    """Let the enclosed statements of this transaction see every row (a deliberate cross-scope read).

    Changes pending on entry are flushed first, in the caller's scope; the caller's scope comes
    back when the block ends.
    """
    await session.flush()
    await _switch(session, SYSTEM)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):  # an aborted transaction is rolled back anyway
            await _switch(session, session.info.get("scope") or _current.get())


async def flush_as_system(session: Any) -> None:
    """Flush the pending changes in the system scope (a deliberate cross-scope write), then come back."""
    await _switch(session, SYSTEM)
    try:
        await session.flush()
    finally:
        with contextlib.suppress(Exception):
            await _switch(session, session.info.get("scope") or _current.get())


def within(column: Any, prefix: Any) -> Any:
    """SQL: the code in `column` lies inside the area `prefix` (the prefix rule of scope checks).

    Written `column ^@ prefix` (starts_with), not LIKE: starts_with is leakproof, so under the wall
    PostgreSQL still drives the prefix index (`text_pattern_ops`) with it. A LIKE filter is not, and
    must wait until each row has passed the policy: no index, a scan of the table.
    """
    return column.op("^@", return_type=Boolean)(prefix)


# --- DDL for the migrations -------------------------------------------------------------------

SCOPE = "(SELECT current_setting('nol.scope', true))"
AREA = "(SELECT current_setting('nol.area', true))"
SCHOOL = "(SELECT current_setting('nol.school', true))"
# Each setting is read once per statement (an InitPlan), not once per row.


def rows(area: str = "area_code", school: str | None = "school_code", village: str | None = None) -> dict:
    """The usual wall of a record: its area, its school (school users), its village (village users).

    Without a school column a school user is walled to its area; without a village column a village
    user to its village as an area prefix (rows located in the village).
    """
    return {
        "area": f"starts_with({area}, {AREA})",
        "school": f"{school} = {SCHOOL}" if school else f"starts_with({area}, {AREA})",
        "village": f"starts_with({village or area}, {AREA})",
    }


def lineage(column: str = "area_code") -> dict:
    """The wall of reference data: rows inside the caller's area, or whose area contains the caller's."""
    expr = f"(starts_with({column}, {AREA}) OR starts_with({AREA}, {column}))"
    return dict.fromkeys(KINDS, expr)


def child_of(parent: str, column: str, key: str = "id") -> str:
    """The wall of a child row: its parent row is visible (the parent's own wall applies).

    One index probe of the parent per row read: for children read a page at a time (a batch's steps,
    a case's actions). `OFFSET 0` keeps it a probe: without it the planner may hash every visible
    parent row instead, a scan of the whole parent table on each query. The child's column is
    qualified: unqualified, a name the parent also has would mean the parent's.
    """
    return f"EXISTS (SELECT 1 FROM {parent} p WHERE p.{key} = {{table}}.{column} OFFSET 0)"  # noqa: S608


def wall_expression(wall: dict | str) -> str:
    """The policy's expression: system sees all; each kind its own wall; anything else nothing."""
    if isinstance(wall, str):
        return f"CASE {SCOPE} WHEN 'system' THEN true ELSE {wall} END"
    arms = " ".join(f"WHEN '{kind}' THEN {wall[kind]}" for kind in KINDS if kind in wall)
    return f"CASE {SCOPE} WHEN 'system' THEN true {arms} ELSE false END"


def wall_ddl(schema: str, table: str, wall: dict | str) -> list[str]:
    """Statements that put the wall on one table (the policy checks writes with the same rule)."""
    name = f'"{schema}"."{table}"'
    return [
        f"ALTER TABLE {name} ENABLE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} FORCE ROW LEVEL SECURITY",
        f"DROP POLICY IF EXISTS wall ON {name}",
        f"CREATE POLICY wall ON {name} USING ({wall_expression(wall).replace('{table}', table)})",
    ]


def unwall_ddl(schema: str, table: str) -> list[str]:
    name = f'"{schema}"."{table}"'
    return [
        f"DROP POLICY IF EXISTS wall ON {name}",
        f"ALTER TABLE {name} NO FORCE ROW LEVEL SECURITY",
        f"ALTER TABLE {name} DISABLE ROW LEVEL SECURITY",
    ]
