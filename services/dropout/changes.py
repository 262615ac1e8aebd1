"""`GET /api/v1/changes/cases`: the dropout service's change feed (cases, tasks, absences) for sync."""

import uuid

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import select

from services.dropout.absences.models import Absence
from services.dropout.absences.schemas import AbsencePublic
from services.dropout.absences.service import absence_scope
from services.dropout.cases import service as cases
from services.dropout.cases.models import Case
from services.dropout.cases.schemas import CasePublic
from services.dropout.tasks import service as tasks
from services.dropout.tasks.models import Task
from services.dropout.tasks.routes import TaskPublic
from services.kit import changes
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/changes", tags=["change feeds"])
SCHEMA = "dropout"
RESOURCES = ["case", "task", "absence"]


class CaseChange(changes.ChangeBase):
    item: CasePublic | TaskPublic | AbsencePublic | None = Field(
        default=None, description="upsert: the record now (a case with its actions, a task or an absence)"
    )


class CaseChanges(changes.ChangePageBase):
    items: list[CaseChange]


@router.get(
    "/cases",
    response_model=CaseChanges,
    summary="What changed in cases, tasks and absences (sync)",
    description=changes.FEED_DESCRIPTION
    + " A case's `upsert` follows each action recorded on it; a task is listed to the role it is for.",
    responses=problems(422),
)
async def case_changes(
    session: SessionDep,
    principal: CurrentPrincipal,
    cursor: changes.After = None,
    limit: changes.FeedLimit = 200,
) -> dict:
    async def render(entries: list[changes.Entry]) -> dict:
        ids = {r: [e.id for e in entries if e.resource == r] for r in RESOURCES}
        out: dict[tuple[str, uuid.UUID], object] = {}
        if ids["case"]:
            pairs = (await session.execute(cases.in_scope(principal).where(Case.id.in_(ids["case"])))).all()
            out |= {("case", c.id): c for c in await cases.to_public(session, [(p[0], p[1]) for p in pairs])}
        if ids["task"]:
            rows = await session.execute(
                select(Task).where(Task.id.in_(ids["task"]), tasks.visible_to(principal))
            )
            out |= {("task", t.id): TaskPublic.model_validate(t) for t in rows.scalars()}
        if ids["absence"]:
            rows = await session.execute(
                select(Absence).where(Absence.id.in_(ids["absence"]), absence_scope(principal))
            )
            out |= {("absence", a.id): AbsencePublic.model_validate(a) for a in rows.scalars()}
        return out

    return await changes.page(
        session,
        SCHEMA,
        resources=RESOURCES,
        scope=changes.scope_condition(principal),
        after=cursor,
        limit=limit,
        render=render,
    )
