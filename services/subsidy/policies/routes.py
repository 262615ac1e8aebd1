from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.versioning import IfMatch
from services.subsidy.domain import Category, PolicyKind, Stage
from services.subsidy.policies import service
from services.subsidy.policies.models import Policy
from services.subsidy.policies.schemas import PolicyCreate, PolicyPublic, PolicyUpdate

router = APIRouter(prefix="/api/v1/subsidy/policies", tags=["subsidy policies"])
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{1,39}$")]


async def policy_in_scope(code: Code, session: SessionDep, principal: CurrentPrincipal) -> Policy:
    return await service.get_policy_or_404(session, principal, code)


PolicyInScope = Annotated[Policy, Depends(policy_in_scope)]

EXAMPLE = {
    "code": "CN-LIVING-BOARD-PRIMARY",
    "name": "义务教育家庭经济困难寄宿生生活补助（小学）",
    "kind": "living_allowance",
    "stages": ["primary"],
    "categories": ["registered_poor", "monitored", "dibao", "tekun", "orphan", "disabled"],
    "boarding_only": True,
    "amount_fen": 62500,
    "years": [2024, 2025, 2026],
}


RULED = {
    "code": "CN-LIVING-JUNIOR",
    "name": "义务教育家庭经济困难学生生活补助（初中）",
    "kind": "living_allowance",
    "stages": ["junior"],
    "categories": ["registered_poor", "monitored", "dibao", "tekun", "orphan", "disabled"],
    "min_hardship_level": "general",
    "rules": [
        {"code": "NEW7", "name": "初一新生入学补助", "from_semester": "2024-autumn", "amount_fen": 100000,
         "grades": [7], "new_entrant": True, "one_off": True, "shares": {"central": 0.5, "county": 0.5}},
        {"code": "BOARD-2019", "from_semester": "2019-autumn", "until_semester": "2024-spring",
         "boarding": True, "amount_fen": 62500, "shares": {"central": 0.8, "provincial": 0.1, "county": 0.1}},
        {"code": "BOARD-2024", "from_semester": "2024-autumn", "boarding": True, "amount_fen": 68750,
         "shares": {"central": 0.8, "provincial": 0.1, "county": 0.1}},
        {"code": "DAY", "from_semester": "2019-autumn", "boarding": False, "amount_fen": 31250,
         "shares": {"central": 0.8, "provincial": 0.1, "county": 0.1}},
    ],
}  # fmt: skip


@router.post(
    "",
    status_code=201,
    response_model=PolicyPublic,
    summary="Create a policy",
    description=(
        "A flat policy (`amount_fen` per semester over `years`) or one with dated `rules` (标准): tried in "
        "order each semester, the first a child meets sets the line's amount and item; `one_off` items "
        "are paid once per child and stage; `shares` (分担比例) split each line into fen per central / "
        "provincial / county budget, summing exactly to the amount. `min_hardship_level` admits children "
        "with a county-approved hardship level beside `categories`."
    ),
    openapi_extra={
        "requestBody": {
            "content": {
                "application/json": {
                    "examples": {
                        "flat": {"summary": "One amount over calendar years", "value": EXAMPLE},
                        "rules": {"summary": "Dated rules, a one-off item, funding shares", "value": RULED},
                    }
                }
            }
        }
    },
    responses=problems(403, 409),
)
async def create_policy(data: PolicyCreate, session: SessionDep, principal: CurrentPrincipal) -> PolicyPublic:
    """Create a policy (admin: anywhere under its area; county: its county)."""
    return service.to_public(await service.create_policy(session, principal, data=data))


@router.get("", response_model=Page[PolicyPublic], summary="List policies")
async def list_policies(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    code: Annotated[str | None, Query(max_length=40)] = None,
    kind: PolicyKind | None = None,
    stage: Stage | None = None,
    category: Category | None = None,
    year: Annotated[int | None, Query(ge=2000, le=2100)] = None,
    area_code: Annotated[
        str | None, Query(pattern=r"^[0-9]{2,12}$", description="Policies in force here")
    ] = None,
    all_revisions: Annotated[bool, Query(description="Include superseded revisions")] = False,
    updated_since: UpdatedSince = None,
):
    """List the policies visible to the caller (its area's, and those of the areas above it)."""
    stmt = select(Policy).where(service.visible_to(principal))
    if not all_revisions:
        stmt = stmt.where(Policy.is_current)
    if code:
        stmt = stmt.where(Policy.code == code)
    if kind:
        stmt = stmt.where(Policy.kind == kind.value)
    if stage:
        stmt = stmt.where(Policy.stages.any(stage.value))
    if category:
        stmt = stmt.where(Policy.categories.any(category.value))
    if year:
        stmt = stmt.where(Policy.years.any(year))
    if area_code:
        stmt = stmt.where(service.applies_in(area_code))
    if updated_since:
        stmt = stmt.where(Policy.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Policy.code, Policy.revision],
        limit=limit,
        cursor=cursor,
        key=lambda p: [p.code, p.revision],
        to_item=service.to_public,
    )


@router.get("/{code}", response_model=PolicyPublic, summary="Read a policy", responses=problems(404))
async def read_policy(
    code: Code,
    session: SessionDep,
    principal: CurrentPrincipal,
    revision: Annotated[
        int | None, Query(ge=1, le=100_000, description="A past revision; default the current")
    ] = None,
) -> PolicyPublic:
    return service.to_public(await service.get_policy_or_404(session, principal, code, revision))


@router.patch(
    "/{code}", response_model=PolicyPublic, summary="Change a policy", responses=problems(403, 404, 409)
)
async def update_policy(
    policy: PolicyInScope,
    data: PolicyUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> PolicyPublic:
    """Change a policy; once a batch used it, the change is a new revision (the response's `revision`)."""
    updated = await service.update_policy(session, principal, policy=policy, data=data, if_match=if_match)
    return service.to_public(updated)
