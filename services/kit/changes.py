"""Change feeds: what changed, in an order a reader can follow without ever skipping a row.

An offline app syncs by asking "what changed after my cursor?". `updated_at` cannot answer that: a
transaction that began earlier (its `now()` is earlier) may commit after a reader already moved its
cursor past that time, and its rows are never seen; a deleted row leaves nothing to find; a row that
moved out of the reader's area just stops appearing. A change feed answers it:

- **One table per service** (`<schema>.change`), filled by triggers on the tracked tables in the same
  transaction as the change itself: `upsert` (written), `deleted` (a tombstone) and `left_scope` (the
  row's area, school or village changed: an entry carrying the *old* codes, so those who saw the row
  learn it left them, before the `upsert` with the new ones). The triggers are statement-level with
  transition tables: one `INSERT ... SELECT` per statement, however many rows it touched (a bulk
  chunk of 1,000 rows costs one more statement, not 1,000).
- **Commit-safe order**: each entry keeps the id of the transaction that wrote it
  (`pg_current_xact_id()`, 64-bit, never wraps) and an identity `seq`. The feed is ordered by
  (`xid`, `seq`) and serves only entries whose transaction is older than the oldest transaction still
  running (`pg_snapshot_xmin(pg_current_snapshot())`): those are all committed (or rolled back, and
  then gone), and every transaction that could still commit has an xid at or above that bound, so
  it sorts after every entry already served. A late-committing write is therefore never skipped: it
  is held back until it commits, then served after the cursor. The price is freshness, not
  correctness: while a long transaction runs (a big import), entries after it wait for it.
- **The cursor** is opaque (`xid`, `seq` of the last entry served, base64). `limit` bounds a page; a
  reader follows `next_cursor` while it is set, keeps `sync_cursor` and resumes from it next time.
- **Scope**: each entry carries the row's codes at the time (`area_code`, `school_code`,
  `village_code`); the reading service filters them in SQL like its lists, and the table has the
  database wall too. Any transaction may append (the `append` policy): a row moving to another county
  writes its `left_scope` entry under the old county's codes.

This module holds the generic parts (DDL for the migrations, the read); each service states which
tables it tracks and renders the items.
"""

import base64
import binascii
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.sql.elements import TextClause
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Invalid
from services.kit.rls import wall_ddl

TABLE = "change"
OPS = ("upsert", "deleted", "left_scope")
BAD_CURSOR = "Invalid cursor: use the next_cursor of the previous page"


@dataclass(frozen=True)
class Tracked:
    """A table whose changes go to the feed: its resource name and where its scope codes are."""

    table: str
    resource: str
    area: str = "area_code"
    school: str = "school_code"
    village: str = "village_code"
    version: str = "version"


# --- DDL for the migrations -------------------------------------------------------------------


def table_ddl(schema: str, wall: dict | str) -> list[str]:
    """The feed table of a service, its index, and its wall (any transaction may append)."""
    name = f'"{schema}".{TABLE}'
    return [
        f"""CREATE TABLE {name} (
            seq bigint GENERATED ALWAYS AS IDENTITY,
            xid xid8 NOT NULL DEFAULT pg_current_xact_id(),
            resource varchar(30) NOT NULL,
            row_id uuid NOT NULL,
            op varchar(10) NOT NULL,
            version integer,
            area_code varchar(12),
            school_code varchar(10),
            village_code varchar(12),
            changed_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT pk_change PRIMARY KEY (seq),
            CONSTRAINT ck_change_op CHECK (op IN ('upsert', 'deleted', 'left_scope'))
        )""",
        f"CREATE INDEX ix_change_xid_seq ON {name} (xid, seq)",
        *wall_ddl(schema, TABLE, wall),
        f"CREATE POLICY append ON {name} FOR INSERT WITH CHECK (true)",
    ]


def drop_table_ddl(schema: str) -> list[str]:
    return [f'DROP TABLE IF EXISTS "{schema}".{TABLE}']


INTO = (
    "INSERT INTO {schema}." + TABLE + " (resource, row_id, op, version, area_code, school_code, village_code)"
)


def _select(t: Tracked, source: str, alias: str, op: str) -> str:
    def col(expr: str) -> str:
        return "NULL" if expr == "NULL" else f"{alias}.{expr}"

    return (
        f"SELECT '{t.resource}', {alias}.id, '{op}', {col(t.version)}, {col(t.area)}, {col(t.school)}, "  # noqa: S608
        f"{col(t.village)} FROM {source} {alias}"
    )  # names from the migrations, never from a request


def capture_ddl(schema: str, t: Tracked) -> list[str]:
    """The triggers that write a table's changes to the feed (statement-level, transition tables)."""
    into = INTO.format(schema=f'"{schema}"')
    codes = [c for c in (t.area, t.school, t.village) if c != "NULL"]
    moved = " OR ".join(f"o.{c} IS DISTINCT FROM n.{c}" for c in codes) or "false"
    left = _select(t, "old_rows", "o", "left_scope") + f" JOIN new_rows n ON n.id = o.id WHERE {moved}"
    bodies = {
        "insert": (f"{into} {_select(t, 'new_rows', 'n', 'upsert')};", "NEW TABLE AS new_rows"),
        # The old codes first (those who saw the row learn it left them), then the row as it is now.
        "update": (
            f"{into} {left} ORDER BY o.id; {into} {_select(t, 'new_rows', 'n', 'upsert')};",
            "OLD TABLE AS old_rows NEW TABLE AS new_rows",
        ),
        "delete": (f"{into} {_select(t, 'old_rows', 'o', 'deleted')};", "OLD TABLE AS old_rows"),
    }
    out = []
    for event, (body, referencing) in bodies.items():
        fn = f'"{schema}".feed_{t.table}_{event}'
        out += [
            f"CREATE OR REPLACE FUNCTION {fn}() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN {body} RETURN NULL; END $$",
            f'CREATE TRIGGER feed_{event} AFTER {event.upper()} ON "{schema}"."{t.table}" '
            f"REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {fn}()",
        ]
    return out


def drop_capture_ddl(schema: str, t: Tracked) -> list[str]:
    out = []
    for event in ("insert", "update", "delete"):
        out += [
            f'DROP TRIGGER IF EXISTS feed_{event} ON "{schema}"."{t.table}"',
            f'DROP FUNCTION IF EXISTS "{schema}".feed_{t.table}_{event}()',
        ]
    return out


def backfill_ddl(schema: str, t: Tracked) -> str:
    """One `upsert` entry for every row already there (a new reader starts from the beginning)."""
    into = INTO.format(schema=f'"{schema}"')
    source = f'"{schema}"."{t.table}"'
    return f"{into} {_select(t, source, 'n', 'upsert')}"


# --- reading ------------------------------------------------------------------------------------


def encode_cursor(xid: int, seq: int) -> str:
    return base64.urlsafe_b64encode(f"{xid}.{seq}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """Return a cursor's (xid, seq); 422 on `cursor` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        xid, seq = (int(part) for part in raw.split("."))
    except (ValueError, UnicodeDecodeError, binascii.Error) as exc:
        raise Invalid(["cursor"], BAD_CURSOR) from exc
    if not (0 <= xid < 1 << 63 and 0 <= seq < 1 << 63):
        raise Invalid(["cursor"], BAD_CURSOR)
    return xid, seq


@dataclass
class Entry:
    resource: str
    id: uuid.UUID
    op: str
    version: int | None
    changed_at: datetime
    cursor: str
    area_code: str | None = None
    school_code: str | None = None
    village_code: str | None = None


async def read(
    session: AsyncSession,
    schema: str,
    *,
    resources: list[str],
    scope: str,
    params: dict[str, Any],
    after: str | None,
    limit: int,
) -> tuple[list[Entry], str | None, bool]:
    """A page of the feed after a cursor: (entries, next cursor, more waiting). `scope` is a SQL
    condition on the entry's codes (with its `params`), the service's own rule for the caller."""
    xid, seq = decode_cursor(after) if after else (0, 0)
    stmt: TextClause = text(
        "SELECT seq, xid::text AS xid, resource, row_id, op, version, changed_at, area_code, school_code, "  # noqa: S608
        f"village_code FROM {schema}.{TABLE} "
        "WHERE (xid, seq) > (CAST(:xid AS text)::xid8, :seq) AND resource = ANY(:resources) "
        "AND xid < pg_snapshot_xmin(pg_current_snapshot()) "
        f"AND ({scope}) ORDER BY xid, seq LIMIT :limit"
    )
    rows = (
        await session.execute(
            stmt, {"xid": str(xid), "seq": seq, "resources": resources, "limit": limit + 1, **params}
        )
    ).all()
    more = len(rows) > limit
    rows = rows[:limit]
    entries = [
        Entry(
            r.resource,
            r.row_id,
            r.op,
            r.version,
            r.changed_at,
            encode_cursor(int(r.xid), r.seq),
            r.area_code,
            r.school_code,
            r.village_code,
        )
        for r in rows
    ]
    next_cursor = entries[-1].cursor if entries else after
    return entries, next_cursor, more


# --- the HTTP side ------------------------------------------------------------------------------

After = Annotated[
    str | None,
    Query(
        max_length=100,
        description="Opaque: the `next_cursor` of the previous page, or the `sync_cursor` kept from the "
        "last sync (none: from the beginning)",
    ),
]
FeedLimit = Annotated[int, Query(ge=1, le=1000, description="At most this many entries (max 1000)")]
Op = Literal["upsert", "deleted", "left_scope"]
FEED_DESCRIPTION = (
    "Everything that changed after `cursor`, in an order no late-committing write can slip behind "
    "(see services/kit/changes.py): `upsert` (created or changed; `item` is the record as it is now), "
    "`deleted` (a tombstone: drop it) and `left_scope` "
    "(it moved out of the caller's area, school or village: drop it; an `upsert` follows when it is "
    "still visible). Apply entries in order; follow `next_cursor` while it is set, keep `sync_cursor` "
    "and ask again from it (`cursor=`) next time. A write appears once its transaction and every "
    "older running one have committed, usually within milliseconds."
)


class ChangeBase(BaseModel):
    resource: str = Field(description="What changed", examples=["student"])
    id: uuid.UUID = Field(description="The record's id")
    op: Op = Field(description="upsert, deleted (tombstone) or left_scope (moved out of your scope)")
    version: int | None = Field(description="The record's version after the change")
    changed_at: datetime = Field(description="When the change was written (for display, not for ordering)")
    area_code: str | None = Field(description="The record's area then (left_scope: the area it left)")
    school_code: str | None = Field(description="Its school then, if any")
    village_code: str | None = Field(description="Its village then, if any")


class ChangePageBase(BaseModel):
    next_cursor: str | None = Field(description="The next page (`cursor=` this); null on the last page")
    sync_cursor: str | None = Field(
        description="Where to resume the next sync (`cursor=` this), also on the last page; the cursor "
        "asked with when nothing changed; null only while the feed is empty"
    )


def scope_condition(principal: Principal) -> tuple[str, dict[str, Any]]:
    """The usual rule on an entry's codes: a school's own, a village's, or inside the caller's area."""
    if principal.role is Role.school:
        return "school_code = :scope_school", {"scope_school": principal.school_code or ""}
    if principal.role is Role.village:
        return "starts_with(village_code, :scope_area)", {"scope_area": principal.area_code}
    return "starts_with(area_code, :scope_area)", {"scope_area": principal.area_code}


async def page(
    session: AsyncSession,
    schema: str,
    *,
    resources: list[str],
    scope: tuple[str, dict[str, Any]],
    after: str | None,
    limit: int,
    render: Callable[[list[Entry]], Any],
) -> dict[str, Any]:
    """A page of the feed as the routes answer it; `render(entries)` (awaitable) gives each upsert's
    current record by (resource, id), read in the caller's scope."""
    entries, next_cursor, more = await read(
        session, schema, resources=resources, scope=scope[0], params=scope[1], after=after, limit=limit
    )
    items = await render([e for e in entries if e.op == "upsert"]) if entries else {}
    # An upsert the caller cannot read now is left out: either the record left its scope since (the
    # `left_scope` or `deleted` entry follows) or it was never the caller's (another role's task).
    return {
        "items": [
            {
                "resource": e.resource,
                "id": e.id,
                "op": e.op,
                "version": e.version,
                "changed_at": e.changed_at,
                "area_code": e.area_code,
                "school_code": e.school_code,
                "village_code": e.village_code,
                "item": items.get((e.resource, e.id)) if e.op == "upsert" else None,
            }
            for e in entries
            if e.op != "upsert" or (e.resource, e.id) in items
        ],
        "next_cursor": next_cursor if more else None,
        "sync_cursor": next_cursor,
    }
