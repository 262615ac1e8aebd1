"""`GET /api/v1/audit`: the audit log of the caller's area, newest first (admin, county)."""

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import select

from api_gateway.audit.models import AuditLog
from services.kit.auth import Principal, Role, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, decode_cursor, encode_cursor
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
Auditor = Annotated[Principal, Depends(require(Role.admin, Role.county))]


class AuditPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int = Field(examples=[1042])
    at: datetime
    actor: str = Field(examples=["li.county"])
    actor_role: str = Field(examples=["county"])
    action: str = Field(examples=["reveal"], description=(
        "`create`, `update`, `delete`, `reveal`, `login`, `login_failed`, or a transition "
        "such as `approve`"))
    method: str = Field(examples=["GET"])
    path: str = Field(examples=["/api/v1/students/0b6c.../"])
    target_type: str | None = Field(examples=["students"])
    target_id: str | None = Field(examples=["0b6c5d0e-8d7e-4c7e-9a51-3f0d2c1e6a77"])
    status: int = Field(examples=[200])
    request_id: str | None = Field(examples=["4bf92f3577b34da6a3ce929d0e0e4736"])


@router.get("", response_model=Page[AuditPublic], summary="Read the audit log",
            responses=problems(403))
async def list_audit(
    session: SessionDep, principal: Auditor, limit: Limit = 50, cursor: Cursor = None,
    target_id: Annotated[str | None, Query(max_length=128)] = None,
    actor: Annotated[str | None, Query(max_length=64, description="Username")] = None,
    action: Annotated[str | None, Query(max_length=32, examples=["reveal"])] = None,
    since: Annotated[datetime | None, Query(description="Entries at or after this time")] = None,
):
    """List audit entries of actors inside the caller's area, newest first."""
    stmt = select(AuditLog).where(
        AuditLog.actor_area_code.startswith(principal.area_code, autoescape=True))
    if target_id:
        stmt = stmt.where(AuditLog.target_id == target_id)
    if actor:
        stmt = stmt.where(AuditLog.actor == actor)
    if action:
        stmt = stmt.where(AuditLog.action == action)
    if since:
        stmt = stmt.where(AuditLog.at >= since)
    if cursor:
        (before,) = decode_cursor(cursor, [AuditLog.id])
        stmt = stmt.where(AuditLog.id < before)
    rows = list(await session.exec(stmt.order_by(AuditLog.id.desc()).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {"items": [AuditPublic.model_validate(r) for r in rows],
            "next_cursor": encode_cursor([rows[-1].id]) if more else None}
