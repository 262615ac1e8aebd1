"""The daily checks: the escalation timer and the confirmation of returns (also run on demand)."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import date, datetime, time, timedelta

import structlog
from fastapi import FastAPI
from sqlalchemy import select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import now, zone
from services.dropout.absences.models import Absence
from services.dropout.calendar.service import Calendar, calendars_for
from services.dropout.cases import lifecycle
from services.dropout.cases.models import Case
from services.dropout.domain import UNRETURNED_STATUSES, CaseStatus, Level, today_local
from services.dropout.students.models import Student
from services.kit import rls
from services.kit.rls import within
from services.kit.settings import get_settings

log = structlog.get_logger()
CHECK_LOCK = 0x6E6F6C64  # advisory lock: one run of the checks at a time
DAILY_AT = time(2, 0)  # local time (the deployment's zone)


def return_verdict(
    *,
    returned_on: date,
    absences: dict[date, str],
    calendar: Calendar,
    today: date,
    confirm_days: int,
    threshold: int,
) -> tuple[str, date, date | None] | None:
    """Judge a pending return: ("confirm", on, None), ("reopen", on, run_start) or None (keep waiting).

    Walk the school days after the return date: a day with no absence counts as attended once it is
    over (before `today`); an unexplained absence restarts the attended count, and `threshold`
    consecutive ones reopen the case; a sick or leave day neither counts nor restarts.
    """
    attended, run, run_start = 0, 0, None
    for d in calendar.school_days(returned_on, today):
        reason = absences.get(d)
        if reason is None:
            if d >= today:
                continue
            attended, run = attended + 1, 0
            if attended >= confirm_days:
                return "confirm", d, None
        elif reason == "unexplained":
            attended, run = 0, run + 1
            run_start = d if run == 1 else run_start
            if run >= threshold:
                return "reopen", d, run_start
        else:
            run = 0
    return None


async def check_returns(session: AsyncSession, pairs: list[tuple[Case, Student]], *, today: date) -> dict:
    """Confirm or reopen pending returns whose attendance decides them."""
    pairs = [(c, s) for c, s in pairs if c.status == CaseStatus.returned_pending and c.returned_on]
    counts = {"confirmed": 0, "reopened": 0}
    if not pairs:
        return counts
    settings = get_settings()
    calendars = await calendars_for(session, {s.area_code for _, s in pairs})
    rows = (
        await session.execute(
            select(Absence.student_id, Absence.date, Absence.reason).where(
                Absence.student_id.in_([s.id for _, s in pairs]),
                Absence.date > min(c.returned_on for c, _ in pairs),
            )
        )
    ).all()
    by_student: dict[uuid.UUID, dict[date, str]] = {}
    for r in rows:
        by_student.setdefault(r.student_id, {})[r.date] = r.reason
    for case, student in pairs:
        verdict = return_verdict(
            returned_on=case.returned_on,
            absences=by_student.get(student.id, {}),
            calendar=calendars.get(student.area_code) or Calendar(frozenset(settings.holidays)),
            today=today,
            confirm_days=settings.return_confirm_days,
            threshold=settings.dropout_case_after_days,
        )
        if verdict and verdict[0] == "confirm":
            await lifecycle.confirm_return(session, case, student, on=verdict[1])
            counts["confirmed"] += 1
        elif verdict:
            await lifecycle.reopen(session, case, student, on=verdict[1], absent_since=verdict[2])
            counts["reopened"] += 1
    return counts


async def pending_of(session: AsyncSession, student_ids: list[uuid.UUID]) -> list[tuple[Case, Student]]:
    """Return the pending returns of some students, locked for the update."""
    if not student_ids:
        return []
    rows = await session.execute(
        select(Case, Student)
        .join(Student, Student.id == Case.student_id)
        .where(Case.student_id.in_(student_ids), Case.status == CaseStatus.returned_pending)
        .with_for_update(of=Case)
    )
    return [tuple(r) for r in rows.all()]


async def escalate_overdue(session: AsyncSession, *, area: str, today: date) -> int:
    """Escalate each case left without return at its level for the configured number of days."""
    days = get_settings().dropout_escalate_after_days
    rows = (
        await session.execute(
            select(Case, Student)
            .join(Student, Student.id == Case.student_id)
            .where(
                Case.status.in_(UNRETURNED_STATUSES),
                Case.level != Level.county,
                Case.level_since <= today - timedelta(days=days),
                within(Student.area_code, area),
            )
            .with_for_update(of=Case)
        )
    ).all()
    for case, student in rows:
        await lifecycle.escalate(
            session,
            case,
            student,
            trigger="timer",
            on=today,
            actor=lifecycle.SYSTEM,
            note=f"{days}天未返校，自动升级",
        )
    return len(rows)


async def run_checks(session: AsyncSession, *, area: str, today: date) -> dict:
    """Run the daily checks for the cases of an area's students, as of a date."""
    await session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHECK_LOCK})
    escalated = await escalate_overdue(session, area=area, today=today)
    ids = (
        await session.execute(
            select(Case.student_id)
            .join(Student, Student.id == Case.student_id)
            .where(
                Case.status == CaseStatus.returned_pending,
                within(Student.area_code, area),
            )
        )
    ).scalars()
    counts = await check_returns(session, await pending_of(session, list(ids)), today=today)
    return {"today": today, "area_code": area, "escalated": escalated, **counts}


def seconds_until_next_run(at: datetime) -> float:
    nxt = datetime.combine(at.astimezone(zone()).date(), DAILY_AT, zone())
    if nxt <= at:
        nxt += timedelta(days=1)
    return (nxt - at).total_seconds()


async def daily(app: FastAPI) -> None:
    """Run the checks for everything once at start (catching up) and then every day at 02:00 local time."""
    while True:
        try:
            async with app.state.sessionmaker() as session, session.begin():
                result = await run_checks(session, area="", today=today_local())
            log.info("dropout daily checks", **{k: str(v) for k, v in result.items()})
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.exception("dropout daily checks failed", error=repr(exc))
        await asyncio.sleep(seconds_until_next_run(now()))


@contextlib.asynccontextmanager
async def daily_lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = rls.system_task(daily(app))  # every school's students (kit.rls)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
