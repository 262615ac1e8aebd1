"""Cursor pagination: `?limit=` (default 50, max 500) and an opaque `?cursor=`."""

import base64
import json
import uuid
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Query
from pydantic import BaseModel
from sqlalchemy import Select, tuple_
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.errors import Invalid

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


def _encode_value(v: Any) -> Any:
    if isinstance(v, datetime):
        return {"t": v.isoformat()}
    if isinstance(v, uuid.UUID):
        return {"u": str(v)}
    return v


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and "t" in v:
        return datetime.fromisoformat(v["t"])
    if isinstance(v, dict) and "u" in v:
        return uuid.UUID(v["u"])
    return v


def encode_cursor(values: Sequence[Any]) -> str:
    raw = json.dumps([_encode_value(v) for v in values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, width: int) -> list[Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = [_decode_value(v) for v in json.loads(raw)]
    except (ValueError, TypeError, KeyError) as exc:
        raise Invalid(["cursor"], "Invalid cursor") from exc
    if not isinstance(values, list) or len(values) != width:
        raise Invalid(["cursor"], "Invalid cursor")
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
    """Run a keyset-paginated query; `key(row)` gives the row's values of `order_by`."""
    if cursor:
        stmt = stmt.where(tuple_(*order_by) > tuple_(*decode_cursor(cursor, len(order_by))))
    rows = (await session.execute(stmt.order_by(*order_by).limit(limit + 1))).all()
    rows = [r[0] if len(r) == 1 else r for r in rows]
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(key(rows[-1])) if more and rows else None
    return {"items": [to_item(r) for r in rows], "next_cursor": next_cursor}
