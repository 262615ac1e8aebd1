from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from services.contracts import calendar
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.subsidy.tasks import service

router = APIRouter(prefix="/api/v1/subsidy/tasks", tags=["subsidy tasks"])


class Task(BaseModel):
    kind: str = Field(
        description="submit_batch, approve_batch, pay_batch, resolve_objection, batch_back_pay, "
        "acknowledge_notice"
    )
    title: str = Field(description="In Chinese")
    due_on: date
    overdue: bool
    ref: dict = Field(description="{type, id}: what the task is about")
    school_code: str | None = None
    student_id: str | None = None
    policy_code: str | None = None
    semester: str | None = None
    count: int | None = None


class TaskList(BaseModel):
    items: list[Task]
    next_cursor: str | None = None


@router.get("", response_model=TaskList, summary="The caller's subsidy to-dos")
async def list_tasks(
    fresh: FreshProjection,
    session: SessionDep,
    principal: CurrentPrincipal,
    on: Annotated[
        date | None, Query(description="As of this day (default today), e.g. to plan ahead")
    ] = None,
) -> TaskList:
    """Batches to submit, approve or pay within 14 days of (or past) their deadline; objections to
    resolve; back-pay proposals to batch; notices to deliver (village)."""
    items = await service.tasks_for(session, principal, on=on or calendar.today())
    return TaskList(items=[Task.model_validate(i) for i in items])
