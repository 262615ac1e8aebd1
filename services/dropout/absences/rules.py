"""The absence rules: one unexplained day → reach the family; N consecutive school days → a case."""

import uuid
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.absences.models import Absence
from services.dropout.calendar.service import Calendar
from services.dropout.cases.models import Case
from services.dropout.cases.opening import Opening, open_cases
from services.dropout.domain import CaseSource
from services.dropout.students.models import Student
from services.dropout.tasks.service import add_tasks, task_row

LOOK_AROUND = timedelta(days=60)


def run_reaching(
    unexplained: set[date], posted: Iterable[date], calendar: Calendar, threshold: int, after: date | None
) -> tuple[date, date] | None:
    """Return (first day, threshold day) of a run of `threshold` consecutive unexplained school days
    that contains a posted day, counting only days after `after` (a return starts a fresh count)."""
    days = {d for d in unexplained if after is None or d > after}
    for d in sorted(set(posted) & days):
        start = d
        while (p := calendar.previous(start)) in days:
            start = p
        run, cur = [start], start
        while len(run) < threshold and (nxt := calendar.following(cur)) in days:
            run.append(nxt)
            cur = nxt
        if len(run) >= threshold:
            return start, run[threshold - 1]
    return None


async def fresh_count_from(session: AsyncSession, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, date]:
    """Return, per student, the day after which absences count afresh (the end of their last case)."""
    rows = await session.execute(
        select(Case.student_id, func.max(func.coalesce(Case.returned_on, Case.closed_on)))
        .where(Case.student_id.in_(student_ids), Case.status == "closed")
        .group_by(Case.student_id)
    )
    return {sid: d for sid, d in rows.all() if d}


async def apply_rules(
    session: AsyncSession,
    *,
    students: dict[uuid.UUID, Student],
    posted: dict[uuid.UUID, list[date]],
    calendars: dict[str | None, Calendar],
    threshold: int,
    actor: str,
) -> dict[uuid.UUID, uuid.UUID]:
    """Open a case where a run reaches the threshold, else remind the school; return student → case."""
    ids = list(posted)
    if not ids:
        return {}
    low = min(min(v) for v in posted.values()) - LOOK_AROUND
    high = max(max(v) for v in posted.values()) + LOOK_AROUND
    unexplained: dict[uuid.UUID, set[date]] = {}
    rows = await session.execute(
        select(Absence.student_id, Absence.date).where(
            Absence.student_id.in_(ids), Absence.reason == "unexplained", Absence.date.between(low, high)
        )
    )
    for sid, d in rows.all():
        unexplained.setdefault(sid, set()).add(d)
    after = await fresh_count_from(session, ids)
    openings, reminders = [], []
    for sid in ids:
        student = students[sid]
        calendar = calendars.get(student.area_code) or calendars[None]
        run = run_reaching(unexplained.get(sid, set()), posted[sid], calendar, threshold, after.get(sid))
        if run:
            openings.append(
                Opening(student=student, source=CaseSource.absences, opened_on=run[1], absent_since=run[0],
                        actor=actor)
            )  # fmt: skip
            continue
        last = max(posted[sid])
        reminders.append(
            task_row(key=f"reach_family:{sid}", kind="reach_family", role="school",
                     due_on=calendar.following(last) or last + timedelta(days=1), student=student,
                     title=f"联系家长：{student.name}，{last:%m-%d}无故缺勤")
        )  # fmt: skip
    await add_tasks(session, reminders)
    return {sid: case.id for sid, case in (await open_cases(session, openings)).items()}
