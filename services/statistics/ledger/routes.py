"""The village 台账: children by their household's village, with aid categories, aid received this year and
their dropout case, from the statistics projections.

A paged list like every other (kit.listing): `format=csv|xlsx` prints it (Chinese headers, ID numbers
masked, the filters above, a total row with the aid in 元), `sort=`, `count=true`, `fields=`.
"""

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.sql.elements import ColumnElement

from services.contracts import calendar
from services.contracts.vocabulary import Category, EnrollmentStatus, Stage
from services.kit.auth import CurrentPrincipal, Principal, Role
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.errors import Forbidden
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.statistics.facts.models import CaseFact, HouseholdFact, PaymentFact, StudentFact
from services.statistics.scope import requested_area

router = APIRouter(prefix="/api/v1/stats", tags=["village ledger (台账)"])
S, P, C, H = StudentFact, PaymentFact, CaseFact, HouseholdFact
PAID = ("paid",)


class LedgerRow(BaseModel):
    """One child of the village ledger."""

    student_id: uuid.UUID
    name: str
    id_number_masked: str | None = Field(description="First 6 and last 4 characters only")
    gender: Literal["male", "female"] | None
    village_code: str | None = Field(description="Where the child's household lives")
    head_name: str | None = Field(description="The household head (户主)")
    school_code: str | None
    stage: Stage | None
    grade: int | None
    status: EnrollmentStatus = Field(description="Enrollment status (在读, 休学, 辍学 …)")
    categories: list[Category] = Field(description="Aid categories (建档立卡, 低保 …)")
    aid_count: int = Field(description="Payments received in the year (person-times), only lines still paid")
    aid_fen: int = Field(description="Aid received in the year, in fen", examples=[125000])
    case_status: str | None = Field(description="The child's latest dropout case: its status, else null")
    case_opened_on: date | None


def _visible(principal: Principal, area: str) -> ColumnElement:
    if principal.role is Role.school:
        return S.school_code == principal.school_code
    return within(S.village_code, area)


@router.get(
    "/ledger",
    response_model=Page[LedgerRow],
    summary="Village ledger (台账): children by home village, aid and cases",
    description="The children whose household lives in the area (a village, a township, the county: "
    "`village_code`, default the caller's area; a school user: its own pupils), with their aid "
    "categories, the aid received in `year` (lines still paid; default this year) and their latest "
    "dropout case. `format=xlsx|csv` prints it; `category=` keeps the children of one aid category.",
    responses=problems(403, 404),
)
async def village_ledger(
    session: SessionDep,
    principal: CurrentPrincipal,
    as_of: FreshProjection,
    limit: Limit = 50,
    cursor: Cursor = None,
    village_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,12}$", description="A village or any area containing villages")
    ] = None,
    year: Annotated[int | None, Query(ge=2000, le=2100, description="Default: this year")] = None,
    category: Annotated[Category | None, Query(description="Only children of this aid category")] = None,
):
    """Children by home village with categories, aid received this year and case status."""
    if principal.role is Role.platform:
        raise Forbidden("The ledger names children; platform clients read figures")
    area = requested_area(principal, village_code)
    year = year or calendar.today().year
    aid = select(P.student_id, func.count().label("n"), func.sum(P.amount_fen).label("fen")).where(
        P.year == year, P.status.in_(PAID)
    )
    aid = aid.group_by(P.student_id).subquery()
    latest = (
        select(C.student_id, C.status, C.opened_on)
        .distinct(C.student_id)
        .order_by(C.student_id, C.opened_on.desc(), C.case_id)
        .subquery()
    )
    stmt = (
        select(
            S.student_id, S.name, S.id_number_masked, S.gender, S.village_code, H.head_name, S.school_code,
            S.stage, S.grade, S.status, S.categories,
            func.coalesce(aid.c.n, 0).label("aid_count"), func.coalesce(aid.c.fen, 0).label("aid_fen"),
            latest.c.status.label("case_status"), latest.c.opened_on.label("case_opened_on"),
        )
        .outerjoin(H, H.household_id == S.household_id)
        .outerjoin(aid, aid.c.student_id == S.student_id)
        .outerjoin(latest, latest.c.student_id == S.student_id)
        .where(_visible(principal, area))
    )  # fmt: skip
    if category:
        stmt = stmt.where(S.categories.any(category.value))
    return await paginate(
        session, stmt, order_by=[S.name, S.student_id], limit=limit, cursor=cursor,
        key=lambda r: [r.name, r.student_id], to_item=lambda r: dict(r._mapping),
    )  # fmt: skip
