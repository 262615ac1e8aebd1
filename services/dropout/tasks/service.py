"""Tasks: made by the rules (an absence, a case, a check), done by the assignee's action or by hand."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import and_, func, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.db import now
from services.dropout.students.models import Student
from services.dropout.tasks.models import Task
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, NotFound
from services.kit.rls import within

OPEN = "open"


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """The caller's own tasks: its role, inside its school, village or area (admin: every role), and
    those assigned to the caller by name (a helper's, 结对帮扶)."""
    return or_(_by_role(principal), Task.assignee == principal.username)


def _by_role(principal: Principal) -> ColumnElement[bool]:
    if principal.role is Role.school:
        return and_(Task.role == "school", Task.school_code == principal.school_code)
    if principal.role is Role.village:
        return and_(Task.role == "village", within(Task.village_code, principal.area_code))
    area = within(Task.area_code, principal.area_code)
    if principal.role in (Role.township, Role.county):
        return and_(Task.role == principal.role.value, area)
    return area


def task_row(
    *,
    key: str,
    kind: str,
    role: str,
    title: str,
    due_on: date,
    student: Student | None = None,
    case_id: uuid.UUID | None = None,
    verification_id: uuid.UUID | None = None,
    school_code: str | None = None,
    area_code: str | None = None,
    assignee: str | None = None,
) -> dict[str, Any]:
    return {
        "id": uuid.uuid4(),
        "key": key,
        "kind": kind,
        "role": role,
        "title": title[:200],
        "due_on": due_on,
        "student_id": student.id if student else None,
        "student_name": student.name if student else None,
        "case_id": case_id,
        "verification_id": verification_id,
        "school_code": student.school_code if student else school_code,
        "area_code": student.area_code if student else area_code,
        "village_code": student.village_code if student else None,
        "assignee": assignee,
        "status": OPEN,
    }


async def add_tasks(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Create tasks; one already open under the same key gets the new title and due date instead."""
    if not rows:
        return
    table = Task.__table__
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.key],
        index_where=text("status = 'open'"),
        set_={
            "title": stmt.excluded.title,
            "due_on": stmt.excluded.due_on,
            "version": table.c.version + 1,
            "updated_at": func.now(),
        },
    )
    await session.execute(stmt, rows)  # executemany: one cached statement, batched by SQLAlchemy


async def complete_tasks(session: AsyncSession, *conditions: ColumnElement[bool], by: str) -> None:
    """Mark the open tasks matching the conditions done."""
    await session.execute(
        update(Task)
        .where(Task.status == OPEN, *conditions)
        .values(status="done", done_at=now(), done_by=by, version=Task.version + 1, updated_at=now())
    )


async def complete_by_hand(
    session: AsyncSession, principal: Principal, *, task_id: uuid.UUID, note: str | None
) -> Task:
    """Mark one of the caller's tasks done."""
    task = (
        await session.execute(select(Task).where(Task.id == task_id, visible_to(principal)))
    ).scalar_one_or_none()
    if task is None:
        raise NotFound("No such task")
    if task.status != OPEN:
        raise Conflict("The task is already done")
    task.status, task.done_at, task.done_by, task.note = "done", now(), principal.username, note
    task.version += 1
    task.updated_at = now()
    session.add(task)
    await session.flush()
    return task
