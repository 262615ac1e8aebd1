"""Opening a case (by rule, registry dropout, verification or hand), its events and its tasks."""

import uuid
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.cases.models import Case
from services.dropout.domain import CaseSource, CaseStatus, Level, today_local
from services.dropout.events import emit_all, event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_ref
from services.dropout.students.unregistered import NOT_REGISTERED
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, complete_tasks, task_row
from services.kit.settings import get_settings

ACTIVE_WHERE = text("status IN ('open', 'escalated', 'returned_pending')")


def iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def case_data(case: Case, student: Student) -> dict:
    """The payload of every case event: the student's reference fields and the case's state."""
    return student_ref(student, case.opened_on) | {
        "case_id": str(case.id),
        "status": case.status,
        "level": case.level,
        "reason_group": case.reason_group,
        "source": case.source,
        "outcome": case.outcome,
        "opened_on": case.opened_on.isoformat(),
        "absent_since": iso(case.absent_since),
        "returned_on": iso(case.returned_on),
        "closed_on": iso(case.closed_on),
        "confirmed_on": iso(case.confirmed_on),
    }


def case_event(what: str, case: Case, student: Student, **extra) -> dict:
    return event(
        f"edu.dropout.case.{what}",
        subject=str(case.id),
        area_code=student.area_code,
        school_code=student.school_code,
        version=case.version,
        data=case_data(case, student) | extra,
    )


def opening_tasks(case: Case, student: Student) -> list[dict]:
    """The school persuades, the village visits, the township and county are told (and watch the timer).

    A roster child the registry does not know has no school yet: the village visits, and the township
    and county see that the child is still to be placed and registered.
    """
    today = today_local()
    soon = today + timedelta(days=3)
    watch = today + timedelta(days=get_settings().dropout_escalate_after_days)
    key = f"case:{case.id}"
    unregistered = student.status == NOT_REGISTERED
    rows = []
    if student.school_code:
        rows.append(
            task_row(
                key=f"{key}:school:persuade",
                kind="persuade",
                role="school",
                due_on=soon,
                student=student,
                case_id=case.id,
                title=f"劝返：{student.name}（{case.absent_since or case.opened_on}起未到校）",
            )
        )
    if student.village_code:
        visit = "劝其入学" if unregistered else "劝其返校"
        rows.append(
            task_row(
                key=f"{key}:village:home_visit",
                kind="home_visit",
                role="village",
                due_on=soon,
                student=student,
                case_id=case.id,
                title=f"家访：{student.name}，{visit}",
            )
        )
    review = "未在学籍系统，督促入学并登记学籍" if unregistered else "督促劝返"
    for role in ("township", "county"):
        rows.append(
            task_row(
                key=f"{key}:{role}:review_case",
                kind="review_case",
                role=role,
                due_on=watch,
                student=student,
                case_id=case.id,
                title=f"新立案：{student.name}，{review}",
            )
        )
    return rows


@dataclass
class Opening:
    """A case to open for a student, unless it already has an active one."""

    student: Student
    source: CaseSource
    opened_on: date
    actor: str
    absent_since: date | None = None
    reason_group: str | None = None
    note: str | None = None


async def open_cases(session: AsyncSession, openings: list[Opening]) -> dict[uuid.UUID, Case]:
    """Open cases in one go; a student with an active case is skipped (the database keeps it to one).

    Return the opened cases by student id, with their events and tasks written.
    """
    if not openings:
        return {}
    rows = [
        {
            "id": uuid.uuid4(), "student_id": o.student.id, "status": CaseStatus.open.value,
            "level": Level.school.value, "source": o.source.value, "reason_group": o.reason_group,
            "opened_on": o.opened_on, "absent_since": o.absent_since, "level_since": o.opened_on,
            "note": o.note, "opened_by": o.actor, "version": 1,
        }
        for o in openings
    ]  # fmt: skip
    table = Case.__table__
    stmt = (
        insert(table)
        .on_conflict_do_nothing(index_elements=["student_id"], index_where=ACTIVE_WHERE)
        .returning(table.c.id)
    )
    ids = [r.id for r in (await session.execute(stmt, rows)).all()]
    if not ids:
        return {}
    cases = {c.student_id: c for c in (await session.execute(select(Case).where(Case.id.in_(ids)))).scalars()}
    students = {o.student.id: o.student for o in openings}
    await emit_all(session, [case_event("opened", c, students[sid]) for sid, c in cases.items()])
    await add_tasks(session, [t for sid, c in cases.items() for t in opening_tasks(c, students[sid])])
    # The case supersedes the reminder to reach the family.
    keys = [f"reach_family:{sid}" for sid in cases]
    await complete_tasks(session, Task.key.in_(keys), by="system")
    return cases


async def open_case(session: AsyncSession, **kw) -> Case | None:
    """Open one case (see open_cases); None when the student already has an active one."""
    opening = Opening(**kw)
    return (await open_cases(session, [opening])).get(opening.student.id)
