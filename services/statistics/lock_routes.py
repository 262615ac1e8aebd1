from typing import Annotated

from fastapi import APIRouter, Depends, Path
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.contracts.areas import AREA_CODE_PATTERN
from services.kit.auth import CurrentPrincipal, Principal, Role, require
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.schemas import InputModel
from services.statistics.facts.models import HeldEvent, YearLock
from services.statistics.locks import lock_year
from services.statistics.scope import requested_area

router = APIRouter(prefix="/api/v1/stats/locks", tags=["statistics"])
CanLock = Annotated[Principal, Depends(require(Role.admin, Role.county))]


class LockCreate(InputModel):
    year: int = Field(ge=2000, le=2099, examples=[2025])  # a school year ends in the next spring (≤ 2100)
    area_code: str | None = Field(
        default=None, pattern=AREA_CODE_PATTERN, description="Default: the caller's area"
    )


class LockPublic(BaseModel):
    year: int
    area_code: str
    locked_at: str
    actor: str


@router.post("", status_code=201, summary="Lock a year's figures", responses=problems(403, 404, 409))
async def create_lock(data: LockCreate, session: SessionDep, principal: CanLock) -> dict:
    """Freeze a year for an area: figures are served from a snapshot; later events are held, not applied."""
    return await lock_year(
        session, principal, year=data.year, area_code=requested_area(principal, data.area_code)
    )


@router.get("", summary="List year locks")
async def list_locks(session: SessionDep, principal: CurrentPrincipal) -> dict:
    rows = (
        await session.execute(
            select(YearLock)
            .where(within(YearLock.area_code, principal.area_code[:2]))
            .order_by(YearLock.year)
        )
    ).scalars()
    return {
        "items": [
            {"year": r.year, "area_code": r.area_code, "locked_at": r.locked_at.isoformat(), "actor": r.actor}
            for r in rows
            if r.area_code.startswith(principal.area_code) or principal.area_code.startswith(r.area_code)
        ],
        "next_cursor": None,
    }


@router.get("/{year}/held", summary="Events about a locked year, kept aside", responses=problems(403))
async def held_events(
    session: SessionDep,
    principal: CanLock,
    year: Annotated[int, Path(ge=2000, le=2100)],
    limit: Limit = 50,
    cursor: Cursor = None,
) -> dict:
    """Every event that arrived after the lock and was not applied, for review."""
    stmt = select(HeldEvent).where(HeldEvent.year == year, within(HeldEvent.area_code, principal.area_code))
    return await paginate(
        session,
        stmt,
        order_by=[HeldEvent.held_at, HeldEvent.event_id],
        limit=limit,
        cursor=cursor,
        key=lambda h: [h.held_at, h.event_id],
        to_item=lambda h: {
            "event_id": str(h.event_id),
            "type": h.type,
            "year": h.year,
            "area_code": h.area_code,
            "held_at": h.held_at.isoformat(),
            "event": h.payload,
        },
    )
