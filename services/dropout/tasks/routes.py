import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query
from pydantic import Field
from sqlalchemy import String, cast, select

from services.dropout.tasks import service
from services.dropout.tasks.models import Task
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.schemas import InputModel, Stored

router = APIRouter(prefix="/api/v1/tasks", tags=["tasks"])


class TaskPublic(Stored):
    id: uuid.UUID
    kind: str = Field(
        description="home_visit (school: one unexplained day; village: a case), persuade, review_case "
        "(school, village, township, county); complete_verification (school); legal_deadline (the level "
        "leading a case: a notice's deadline); support_contact, support_home_visit (a helper's due rules)"
    )
    role: str = Field(description="school, village, township, county, or helper (assigned by name)")
    assignee: str | None = Field(default=None, description="The user it is assigned to by name (a helper)")
    title: str = Field(description="What to do, for whom (short, for a phone)")
    student_id: uuid.UUID | None
    student_name: str | None
    case_id: uuid.UUID | None
    verification_id: uuid.UUID | None
    school_code: str | None
    due_on: date = Field(description="By when")
    status: str = Field(description="open or done")
    done_at: datetime | None
    done_by: str | None


class TaskDone(InputModel):
    note: str | None = Field(default=None, max_length=500)


@router.get("", response_model=Page[TaskPublic], summary="What the caller has to do now")
async def list_tasks(
    fresh: FreshProjection,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Literal["open", "done", "all"] = "open",
    kind: Annotated[str | None, Query(max_length=30)] = None,
    student_id: uuid.UUID | None = None,
    case_id: uuid.UUID | None = None,
    updated_since: UpdatedSince = None,
):
    """The caller's tasks (its role, inside its school, village or area), soonest due first;
    with `updated_since`, in order of change (for sync)."""
    stmt = select(Task).where(service.visible_to(principal))
    if status != "all":
        stmt = stmt.where(Task.status == status)
    if kind:
        stmt = stmt.where(Task.kind == kind)
    if student_id:
        stmt = stmt.where(Task.student_id == student_id)
    if case_id:
        stmt = stmt.where(Task.case_id == case_id)
    if updated_since:
        stmt = stmt.where(Task.updated_at >= updated_since)
        order, key = [Task.updated_at, Task.id], lambda t: [t.updated_at, t.id]
    else:
        # ISO dates sort as dates; as text they fit the cursor's JSON.
        order, key = [cast(Task.due_on, String), Task.id], lambda t: [t.due_on.isoformat(), t.id]
    return await paginate(
        session, stmt, order_by=order, limit=limit, cursor=cursor, key=key, to_item=TaskPublic.model_validate
    )


@router.post(
    "/{task_id}/complete", response_model=TaskPublic, summary="Mark a task done", responses=problems(404, 409)
)
async def complete_task(
    task_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal, data: TaskDone | None = None
) -> Task:
    """Mark one of the caller's open tasks done (most close by themselves when the work is recorded)."""
    return await service.complete_by_hand(
        session, principal, task_id=task_id, note=data.note if data else None
    )
