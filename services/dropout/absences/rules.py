"""The absence rules: one unexplained day → a home visit by the school; N such days within W school days
→ a case (NOL_DROPOUT_CASE_AFTER_DAYS, NOL_DROPOUT_CASE_WINDOW_DAYS: 3 within 10 by default)."""

import uuid
from collections.abc import Iterable
from datetime import date, timedelta

from sqlalchemy import any_, bindparam, func, select
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.absences.models import Absence
from services.dropout.calendar.service import Calendar
from services.dropout.cases.models import Case
from services.dropout.cases.opening import Opening, open_cases
from services.dropout.domain import CaseSource
from services.dropout.students.models import Student
from services.dropout.tasks.service import add_tasks, task_row

LOOK_AROUND = timedelta(days=60)


def any_ids(ids: Iterable[uuid.UUID]):
    """SQL `= ANY(:ids)`: one array parameter, so a list of a thousand students is one statement the
    driver prepares once (an IN list is a new statement, with a parameter each, for every length)."""
    return any_(bindparam("ids", list(ids), type_=ARRAY(UUID(as_uuid=True)), unique=True))


def window_reaching(
    unexplained: set[date],
    posted: Iterable[date],
    calendar: Calendar,
    threshold: int,
    window: int,
    after: date | None,
) -> tuple[date, date] | None:
    """Return (first day, threshold day) of `threshold` unexplained days lying within `window` school
    days of each other, among which a posted day, counting only days after `after` (a return starts a
    fresh count). Consecutive days are the tightest case; sick and leave days simply do not count."""
    days = sorted(d for d in unexplained if after is None or d > after)
    posted = set(posted)
    for i in range(len(days) - threshold + 1):
        first, nth = days[i], days[i + threshold - 1]
        if not posted & set(days[i : i + threshold]):
            continue
        if 1 + len(calendar.school_days(first, nth)) <= window:
            return first, nth
    return None


async def fresh_count_from(session: AsyncSession, student_ids: list[uuid.UUID]) -> dict[uuid.UUID, date]:
    """Return, per student, the day after which absences count afresh (the end of their last case)."""
    rows = await session.execute(
        select(Case.student_id, func.max(func.coalesce(Case.returned_on, Case.closed_on)))
        .where(Case.student_id == any_ids(student_ids), Case.status == "closed")
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
    window: int,
    actor: str,
) -> dict[uuid.UUID, uuid.UUID]:
    """Open a case where the days reach the threshold within the window, else send the school's head
    teacher on a home visit (家访); return student → case."""
    ids = list(posted)
    if not ids:
        return {}
    low = min(min(v) for v in posted.values()) - LOOK_AROUND
    high = max(max(v) for v in posted.values()) + LOOK_AROUND
    unexplained: dict[uuid.UUID, set[date]] = {}
    rows = await session.execute(
        select(Absence.student_id, Absence.date).where(
            Absence.student_id == any_ids(ids),
            Absence.reason == "unexplained",
            Absence.date.between(low, high),
        )
    )
    for sid, d in rows.all():
        unexplained.setdefault(sid, set()).add(d)
    after = await fresh_count_from(session, ids)
    openings, reminders = [], []
    for sid in ids:
        student = students[sid]
        calendar = calendars.get(student.area_code) or calendars[None]
        run = window_reaching(
            unexplained.get(sid, set()), posted[sid], calendar, threshold, window, after.get(sid)
        )
        if run:
            openings.append(
                Opening(student=student, source=CaseSource.absences, opened_on=run[1], absent_since=run[0],
                        actor=actor)
            )  # fmt: skip
            continue
        last = max(posted[sid])
        reminders.append(
            task_row(key=f"reach_family:{sid}", kind="home_visit", role="school",
                     due_on=calendar.following(last) or last + timedelta(days=1), student=student,
                     title=f"家访（班主任）：{student.name}，{last:%m-%d}无故缺勤")
        )  # fmt: skip
    await add_tasks(session, reminders)
    return {sid: case.id for sid, case in (await open_cases(session, openings)).items()}
