"""`GET /api/v1/changes/students`: the registry's change feed (students and households) for offline sync."""

import uuid

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from services.kit import changes
from services.kit.auth import CurrentPrincipal, Principal, Role
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.registry.households import service as households
from services.registry.households.models import Household
from services.registry.households.schemas import HouseholdPublic
from services.registry.students import service as students
from services.registry.students.models import Student
from services.registry.students.schemas import StudentPublic

router = APIRouter(prefix="/api/v1/changes", tags=["change feeds"])
SCHEMA = "registry"
RESOURCES = ["student", "household"]


class StudentChange(changes.ChangeBase):
    item: StudentPublic | HouseholdPublic | None = Field(
        default=None, description="upsert: the record now (a student or a household), as its read shows it"
    )


class StudentChanges(changes.ChangePageBase):
    items: list[StudentChange]


def _scope(principal: Principal) -> tuple[str, dict]:
    """As the lists: a school sees its students and the households of its students."""
    if principal.role is Role.school:
        own = "row_id IN (SELECT household_id FROM registry.student WHERE school_code = :scope_school)"
        return (
            f"(school_code = :scope_school OR (resource = 'household' AND {own}))",
            {"scope_school": principal.school_code or ""},
        )
    return changes.scope_condition(principal)


@router.get(
    "/students",
    response_model=StudentChanges,
    summary="What changed in students and households (sync)",
    description=changes.FEED_DESCRIPTION,
    responses=problems(422),
)
async def student_changes(
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: changes.After = None,
    limit: changes.FeedLimit = 200,
) -> dict:
    async def render(entries: list[changes.Entry]) -> dict:
        ids = {r: [e.id for e in entries if e.resource == r] for r in RESOURCES}
        out: dict[tuple[str, uuid.UUID], object] = {}
        if ids["student"]:
            rows = await session.execute(
                select(Student).where(Student.id.in_(ids["student"]), students.visible_to(principal))
            )
            out |= {("student", s.id): students.to_public(s) for s in rows.scalars()}
        if ids["household"]:
            rows = await session.execute(
                select(Household).where(Household.id.in_(ids["household"]), households.visible_to(principal))
            )
            out |= {("household", h.id): households.to_public(h) for h in rows.scalars()}
        return out

    return await changes.page(
        session,
        SCHEMA,
        resources=RESOURCES,
        scope=_scope(principal),
        after=cursor,
        limit=limit,
        render=render,
    )
