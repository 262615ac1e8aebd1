"""Appending to the hash-chained audit log, and checking the chain."""

import hashlib
import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select as sa_select
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from api_gateway.audit.models import AuditLog
from services.kit.auth import Principal

GENESIS = "0" * 64
# One writer at a time, so every row links to the row committed just before it.
AUDIT_LOCK_KEY = 0x6E6F6C_617564  # "nol" "aud"


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """What happened, by whom; the chain fields are added on append."""

    actor: str
    actor_role: str
    actor_area_code: str
    action: str
    method: str
    path: str
    status: int
    target_type: str | None = None
    target_id: str | None = None
    request_id: str | None = None

    @classmethod
    def by(cls, principal: Principal, **kw: Any) -> "AuditEntry":
        return cls(actor=principal.username[:64], actor_role=str(principal.role),
                   actor_area_code=principal.area_code, **kw)


HASHED_FIELDS = (
    "at", "actor", "actor_role", "actor_area_code", "action", "method", "path",
    "target_type", "target_id", "status", "request_id",
)


def row_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """Return sha256(prev_hash + canonical JSON of the row's fields)."""
    canonical = {name: fields[name] for name in HASHED_FIELDS}
    canonical["at"] = canonical["at"].astimezone(UTC).isoformat()
    payload = json.dumps(canonical, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256((prev_hash + payload).encode()).hexdigest()


async def append_audit(session: AsyncSession, entry: AuditEntry) -> AuditLog:
    """Append one entry in the caller's transaction (the chain lock is held until it commits)."""
    await session.exec(text("SELECT pg_advisory_xact_lock(:key)"), params={"key": AUDIT_LOCK_KEY})
    last = await session.exec(select(AuditLog.hash).order_by(AuditLog.id.desc()).limit(1))
    prev_hash = last.one_or_none() or GENESIS
    fields = {**asdict(entry), "at": datetime.now(UTC)}
    fields["path"] = fields["path"][:512]
    if fields["target_id"] is not None:
        fields["target_id"] = str(fields["target_id"])[:128]
    row = AuditLog(**fields, prev_hash=prev_hash, hash=row_hash(prev_hash, fields))
    session.add(row)
    await session.flush()
    return row


@dataclass(frozen=True, slots=True)
class BrokenLink:
    id: int
    reason: str


async def verify_chain(conn: AsyncConnection) -> tuple[int, BrokenLink | None]:
    """Walk the chain in order; return the rows checked and the first broken link, if any."""
    table = AuditLog.__table__
    prev_hash, checked = GENESIS, 0
    result = await conn.stream(sa_select(table).order_by(table.c.id).execution_options(yield_per=1000))
    async for row in result.mappings():
        if row["prev_hash"] != prev_hash:
            return checked, BrokenLink(row["id"], "prev_hash does not match the previous row's hash")
        if row["hash"] != row_hash(row["prev_hash"], dict(row)):
            return checked, BrokenLink(row["id"], "hash does not match the row's contents")
        prev_hash = row["hash"]
        checked += 1
    return checked, None
