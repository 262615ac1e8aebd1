import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.versioning import IfMatch
from services.registry.households import service
from services.registry.households.models import Household
from services.registry.households.schemas import HouseholdCreate, HouseholdPublic, HouseholdUpdate
from services.registry.students import service as students
from services.registry.students.models import Student

router = APIRouter(prefix="/api/v1/households", tags=["households"])


async def household_in_scope(
    household_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Household:
    return await service.get_household_or_404(session, principal, household_id)


HouseholdInScope = Annotated[Household, Depends(household_in_scope)]
EXAMPLE = {
    "platform_id": "6109281002010001",
    "head_name": "王建国",
    "area_code": "610928100201",
    "statuses": [
        {"kind": "registered_poor", "since": "2016-01-01", "until": "2020-01-01"},
        {"kind": "lifted", "since": "2020-01-01"},
    ],
}


@router.post(
    "",
    status_code=201,
    response_model=HouseholdPublic,
    summary="Create a household",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": EXAMPLE}}}},
    responses=problems(403, 409),
)
async def create_household(data: HouseholdCreate, session: SessionDep, principal: CurrentPrincipal) -> dict:
    """Create a household (户) in a village inside the caller's area."""
    return service.to_public(await service.create_household(session, principal, data=data))


@router.get("", response_model=Page[HouseholdPublic], summary="List households")
async def list_households(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    platform_id: Annotated[str | None, Query(max_length=40)] = None,
    kind: Annotated[
        str | None,
        Query(
            pattern="^(registered_poor|lifted|monitored|dibao|tekun)$",
            description="Households that ever had this status",
        ),
    ] = None,
    q: Annotated[str | None, Query(max_length=50, description="Part of the head's name")] = None,
    id_number: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{17}[0-9Xx]$",
            description="A child's whole ID number: the household of that student (through the keyed hash)",
        ),
    ] = None,
    updated_since: UpdatedSince = None,
):
    """List households inside the caller's scope, oldest change first (for sync)."""
    stmt = select(Household).where(service.visible_to(principal))
    if area_code:
        stmt = stmt.where(within(Household.area_code, area_code))
    if platform_id:
        stmt = stmt.where(Household.platform_id == platform_id)
    if kind:
        stmt = stmt.where(Household.statuses.contains([{"kind": kind}]))
    if q:
        stmt = stmt.where(Household.head_name.contains(q, autoescape=True))
    if id_number:
        child = select(Student.id).where(
            Student.household_id == Household.id, Student.id_number_hash == students.id_number_hash(id_number)
        )
        stmt = stmt.where(child.exists())
    if updated_since:
        stmt = stmt.where(Household.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Household.updated_at, Household.id],
        limit=limit,
        cursor=cursor,
        key=lambda h: [h.updated_at, h.id],
        to_item=service.to_public,
    )


@router.get(
    "/{household_id}", response_model=HouseholdPublic, summary="Read a household", responses=problems(404)
)
async def read_household(household: HouseholdInScope) -> dict:
    return service.to_public(household)


@router.patch(
    "/{household_id}",
    response_model=HouseholdPublic,
    summary="Update a household",
    responses=problems(403, 404, 409),
)
async def update_household(
    household: HouseholdInScope,
    data: HouseholdUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> dict:
    """Change head, village or statuses; the students' categories follow."""
    updated = await service.update_household(
        session, principal, household=household, data=data, if_match=if_match
    )
    return service.to_public(updated)
