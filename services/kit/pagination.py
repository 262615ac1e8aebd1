"""Cursor pagination: `?limit=` (default 50, max 500) and an opaque `?cursor=`."""

import base64
import binascii
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import (
    JSON,
    BigInteger,
    Integer,
    LargeBinary,
    Select,
    SmallInteger,
    String,
    func,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.errors import Invalid
from services.kit.listing import current as listing_current

T = TypeVar("T")

Limit = Annotated[int, Query(ge=1, le=500, description="Page size (max 500).")]
Cursor = Annotated[
    str | None, Query(max_length=512, description="Opaque cursor from `next_cursor` of the previous page.")
]
UpdatedSince = Annotated[
    datetime | None, Query(description="Only items changed at or after this time (for sync).")
]


class Page(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T]
    next_cursor: str | None = None
    total: int | None = Field(
        default=None, description="With `count=true`: how many items match, over all pages.", examples=[316]
    )


INT_BOUNDS = {SmallInteger: 1 << 15, BigInteger: 1 << 63, Integer: 1 << 31}  # most specific first
BAD_CURSOR = "Invalid cursor: use the next_cursor of the previous page"


def _encode_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, date):
        return {"d": v.isoformat()}
    if isinstance(v, uuid.UUID):
        return {"u": str(v)}
    return v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and len(v) == 1 and isinstance(next(iter(v.values())), str):
        (tag, text), = v.items()
        if tag == "t":
            return datetime.fromisoformat(text)
        if tag == "d":
            return date.fromisoformat(text)
        if tag == "u":
            return uuid.UUID(text)
    if isinstance(v, dict | list):
        raise ValueError("not a cursor value")
    return v


def _fits(value: Any, column: ColumnElement) -> bool:
    """Whether a decoded value can be compared with the column in SQL (else the database says 500)."""
    if value is None:
        return False
    sql_type = column.type
    try:
        expected = sql_type.python_type
    except NotImplementedError:  # an expression of no known Python type: leave it to the database
        return not isinstance(value, dict | list)
    if expected is datetime:
        return isinstance(value, datetime) and (
            value.tzinfo is not None or not getattr(sql_type, "timezone", False))
    if expected is date:
        return isinstance(value, date) and not isinstance(value, datetime)
    if expected is int:
        bound = next((b for t, b in INT_BOUNDS.items() if isinstance(sql_type, t)), 1 << 63)
        return isinstance(value, int) and not isinstance(value, bool) and -bound <= value < bound
    if expected is str:
        length = getattr(sql_type, "length", None) if isinstance(sql_type, String) else None
        return isinstance(value, str) and "\x00" not in value and (length is None or len(value) <= length)
    if expected in (uuid.UUID, bool, float):
        return isinstance(value, expected) or (expected is float and type(value) is int)
    return isinstance(value, str | int | float)  # enums and the like: a plain JSON scalar


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, columns: Sequence[ColumnElement] | int) -> list[Any]:
    """Return a cursor's values, each checked against its column; anything else is a 422 on `cursor`."""
    width = columns if isinstance(columns, int) else len(columns)
    try:
        raw = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        if not isinstance(raw, list) or len(raw) != width:
            raise ValueError("wrong shape")
        values = [_decode_value(v) for v in raw]
    except (ValueError, TypeError, KeyError, RecursionError, binascii.Error) as exc:
        raise Invalid(["cursor"], BAD_CURSOR) from exc
    if not isinstance(columns, int) and not all(map(_fits, values, columns)):
        raise Invalid(["cursor"], BAD_CURSOR)
    return values


async def paginate(
    session: AsyncSession,
    stmt: Select,
    *,
    order_by: Sequence[ColumnElement],
    limit: int,
    cursor: str | None,
    key: Callable[[Any], Sequence[Any]],
    to_item: Callable[[Any], Any] = lambda row: row,
) -> dict[str, Any]:
    """Run a keyset-paginated query; `key(row)` gives the row's values of `order_by`.

    Inside a list route (kit.listing) it also honours `sort=` (another order, same keyset paging),
    `count=true` (adds `total`) and a printed list (`format=`: every row, up to the export bound).
    """
    listing = listing_current()
    total = None
    descending = False
    if listing is not None:
        listing.applied = True
        if listing.count:
            total = await session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
        if listing.sort_field:
            order_by, key = sorted_order(stmt, order_by, key, listing.sort_field)
            stmt, descending = stmt.order_by(None), listing.descending
        if listing.export:
            limit, cursor = listing.max_rows, cursor
    if cursor:
        after = tuple_(*order_by), tuple_(*decode_cursor(cursor, order_by))
        stmt = stmt.where(after[0] < after[1] if descending else after[0] > after[1])
    ordering = [c.desc() for c in order_by] if descending else list(order_by)
    rows = (await session.execute(stmt.order_by(*ordering).limit(limit + 1))).all()
    rows = [r[0] if len(r) == 1 else r for r in rows]
    more = len(rows) > limit
    if more and listing is not None and listing.export:
        raise Invalid(["format"], f"The list has more than {limit} rows: narrow it with filters to print it")
    rows = rows[:limit]
    next_cursor = encode_cursor(key(rows[-1])) if more and rows else None
    page = {"items": [to_item(r) for r in rows], "next_cursor": next_cursor}
    if total is not None:
        page["total"] = total
    return page


NOT_SORTABLE = (ARRAY, JSON, LargeBinary)
NULL_FIRST: dict[type, Any] = {str: "", int: -(1 << 62), bool: False, date: date.min,
                               uuid.UUID: uuid.UUID(int=0)}  # fmt: skip


def sortable(stmt: Select) -> dict[str, ColumnElement]:
    """The selected columns one can order by, by name (no arrays, JSON or binaries)."""
    out = {}
    for column in stmt.selected_columns:
        name = getattr(column, "key", None) or getattr(column, "name", None)
        if name and not isinstance(column.type, NOT_SORTABLE):
            out[name] = column
    return out


def sorted_order(stmt: Select, order_by: Sequence[ColumnElement], key: Callable[[Any], Sequence[Any]],
                 name: str) -> tuple[list[ColumnElement], Callable[[Any], Sequence[Any]]]:  # fmt: skip
    """The order `sort=name` asks for (the route's last order column breaks ties), and its cursor key."""
    columns = sortable(stmt)
    column = columns.get(name)
    if column is None:
        choices = ", ".join(sorted(columns))
        raise Invalid(["sort"], f"Cannot sort this list by {name!r}; it sorts by: {choices}")
    try:
        kind = column.type.python_type
    except NotImplementedError:
        kind = None
    fill = NULL_FIRST.get(kind) if kind is not datetime else datetime.min.replace(tzinfo=UTC)
    expression = column
    if getattr(column, "nullable", True) and fill is not None:
        expression = func.coalesce(column, fill).label(None)
    elif getattr(column, "nullable", True):
        raise Invalid(["sort"], f"Cannot sort this list by {name!r}")
    tiebreak = order_by[-1]

    def sorted_key(row: Any) -> list[Any]:
        value = getattr(row, name, None)
        return [fill if value is None else value, key(row)[-1]]

    return [expression, tiebreak], sorted_key
