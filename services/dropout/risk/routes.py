import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.contracts.vocabulary import Stage
from services.dropout.calendar.service import calendar_for
from services.dropout.domain import today_local
from services.dropout.risk import service
from services.dropout.students.scope import visible_to
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.rls import within

router = APIRouter(prefix="/api/v1/dropout", tags=["early warning"])


class Factor(BaseModel):
    factor: str
    points: int
    detail: str


class RiskItem(BaseModel):
    student_id: uuid.UUID
    name: str
    school_code: str | None
    area_code: str | None
    village_code: str | None
    stage: Stage | None
    grade: int | None
    score: int
    level: Literal["high", "medium", "low"] = Field(description="high (40+), medium (20+) or low")
    factors: list[Factor]


@router.get(
    "/risk",
    response_model=Page[RiskItem],
    summary="Students at risk of dropping out",
    description=service.__doc__,
)
async def list_risk(
    fresh: FreshProjection,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    as_of: date | None = None,
    min_score: Annotated[int, Query(ge=0, le=1000)] = 0,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    student_id: uuid.UUID | None = None,
):
    as_of = as_of or today_local()
    calendar = await calendar_for(session, area_code or principal.area_code)
    scored = service.risk_query(
        visible_to(principal), window_start=calendar.back(as_of, service.WINDOW), as_of=as_of
    )
    stmt = select(scored).where(scored.c.score >= min_score)
    if school_code:
        stmt = stmt.where(scored.c.school_code == school_code)
    if area_code:
        stmt = stmt.where(within(scored.c.area_code, area_code))
    if student_id:
        stmt = stmt.where(scored.c.id == student_id)
    return await paginate(
        session,
        stmt,
        order_by=[scored.c.neg, scored.c.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: [r.neg, r.id],
        to_item=service.to_item,
    )
