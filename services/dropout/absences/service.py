"""Absences: posted one or many at a time, idempotent per student and day; the rules follow."""

import uuid
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import func, select, tuple_
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.absences.models import Absence
from services.dropout.absences.rules import apply_rules
from services.dropout.absences.schemas import AbsenceIn
from services.dropout.calendar.service import Calendar, calendars_for
from services.dropout.cases.checks import check_returns, pending_of
from services.dropout.cases.models import Case
from services.dropout.domain import ACTIVE_STATUSES, today_local
from services.dropout.events import emit_all, event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_ref, visible_to
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import complete_tasks
from services.kit import client_ids
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.rls import as_system, within
from services.kit.settings import get_settings

WRITERS = (Role.admin, Role.county, Role.school)
CatchUp = Callable[[], Awaitable[object]]
CHUNK = 500


def absence_scope(principal: Principal) -> ColumnElement[bool]:
    """Absences the caller sees: its school's, its village's, or its area's."""
    if principal.role is Role.school:
        return Absence.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Absence.village_code, principal.area_code)
    return within(Absence.area_code, principal.area_code)


def _refusal(item: AbsenceIn, student: Student | None, calendar: Calendar, today: date) -> tuple | None:
    if student is None:
        return "unknown_student", "No such student in your scope", "student_id"
    if student.status != "enrolled":
        return "not_enrolled", f"The student is {student.status}, not enrolled", "student_id"
    if item.date > today:
        return "future_date", "The date is in the future", "date"
    if not calendar.is_school_day(item.date):
        return "not_a_school_day", f"{item.date} is not a school day", "date"
    return None


async def _existing(session: AsyncSession, keys: list[tuple[uuid.UUID, date]]) -> dict:
    out = {}
    for i in range(0, len(keys), CHUNK):
        rows = await session.execute(
            select(Absence.student_id, Absence.date, Absence.reason, Absence.note, Absence.id).where(
                tuple_(Absence.student_id, Absence.date).in_(keys[i : i + CHUNK])
            )
        )
        out.update({(r.student_id, r.date): (r.reason, r.note, r.id) for r in rows.all()})
    return out


async def _taken_ids(session: AsyncSession, items: list[AbsenceIn], accepted: dict) -> list[int]:
    """The indexes of accepted items whose client id another absence (other student, day, reason or
    note) already has; an id sent again with its content is simply the same absence (unchanged)."""
    wanted = {items[n].id: n for n in accepted.values() if items[n].id is not None}
    if not wanted:
        return []
    async with as_system(session):  # ids are unique deployment-wide
        rows = (await session.execute(select(Absence).where(Absence.id.in_(list(wanted))))).scalars().all()
    taken = []
    for kept in rows:
        item = items[wanted[kept.id]]
        given = {
            "student_id": item.student_id,
            "date": item.date,
            "reason": item.reason.value,
            "note": item.note,
        }
        if not client_ids.same_fields(given, kept):
            taken.append(wanted[kept.id])
    return taken


async def _upsert(session: AsyncSession, rows: list[dict]) -> dict:
    if not rows:
        return {}
    table = Absence.__table__
    stmt = insert(table)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.student_id, table.c.date],
        set_={
            "reason": stmt.excluded.reason,
            "note": stmt.excluded.note,
            "recorded_by": stmt.excluded.recorded_by,
            "version": table.c.version + 1,
            "updated_at": func.now(),
        },
    ).returning(table.c.id, table.c.student_id, table.c.date, table.c.version)
    # executemany with RETURNING: SQLAlchemy batches it into multi-row statements it compiles once.
    return {(r.student_id, r.date): r for r in (await session.execute(stmt, rows)).all()}


async def _students(session: AsyncSession, principal: Principal, ids: list[uuid.UUID]) -> dict:
    rows = await session.execute(
        select(Student).where(Student.id.in_(ids), visible_to(principal)).execution_options(
            populate_existing=True)
    )  # fmt: skip
    return {s.id: s for s in rows.scalars()}


async def students_posted(
    session: AsyncSession, principal: Principal, *, ids: list[uuid.UUID], catch_up: CatchUp | None
) -> dict[uuid.UUID, Student]:
    """Return the students named, as the registry last said; wait for the registry's news first
    when one is unknown here or not enrolled (a student registered a moment ago may be on its way)."""
    students = await _students(session, principal, ids)
    if catch_up is not None and any(s is None or s.status != "enrolled" for s in map(students.get, ids)):
        await catch_up()  # the barrier: every registry write acknowledged so far is applied here
        students = await _students(session, principal, ids)
    return students


async def post_absences(
    session: AsyncSession,
    principal: Principal,
    *,
    items: list[AbsenceIn],
    single: bool,
    catch_up: CatchUp | None = None,
) -> dict:
    """Record absences (re-posting one is a no-op; a changed reason updates it), then apply the rules."""
    if principal.role not in WRITERS:
        raise Forbidden("Only school, county and admin users post absences")
    ids = list({i.student_id for i in items})
    students = await students_posted(session, principal, ids=ids, catch_up=catch_up)
    calendars: dict = await calendars_for(session, {s.area_code for s in students.values()})
    calendars[None] = Calendar(holidays=frozenset(get_settings().holidays))
    today = today_local()
    results: list[dict] = [
        {"index": n, "student_id": i.student_id, "date": i.date, "result": "error"}
        for n, i in enumerate(items)
    ]
    accepted: dict[tuple[uuid.UUID, date], int] = {}
    for n, item in enumerate(items):
        student = students.get(item.student_id)
        refusal = _refusal(
            item, student, calendars.get(student.area_code if student else None) or calendars[None], today
        )
        if refusal is None and (item.student_id, item.date) in accepted:
            refusal = "duplicate", "The same student and date appear earlier in this request", "date"
        if refusal is None:
            accepted[(item.student_id, item.date)] = n
            continue
        if single:
            if refusal[0] == "unknown_student":
                raise NotFound("No such student")
            raise Invalid([refusal[2]], refusal[1], code=refusal[0])
        results[n]["error"] = {"code": refusal[0], "msg": refusal[1], "loc": [n, refusal[2]]}
    for n in await _taken_ids(session, items, accepted):
        item = items[n]
        if single:
            raise client_ids.conflict(item.id, "absence")
        del accepted[(item.student_id, item.date)]
        msg = "This id is already used by other content: make a new id for a new record"
        results[n]["error"] = {"code": "id_conflict", "msg": msg, "loc": [n, "id"]}
    existing = await _existing(session, list(accepted))
    rows, previous = [], {}
    for key, n in accepted.items():
        item, student = items[n], students[items[n].student_id]
        old = existing.get(key)
        if old is not None and old[0] == item.reason.value and (item.note is None or item.note == old[1]):
            results[n]["result"] = "unchanged"
            results[n]["absence_id"] = old[2]
            continue
        previous[key] = old[0] if old else None
        results[n]["result"] = "updated" if old else "created"
        rows.append(
            {
                "id": item.id or uuid.uuid4(),
                "student_id": item.student_id,
                "date": item.date,
                "reason": item.reason.value,
                "note": item.note if item.note is not None else (old[1] if old else None),
                "school_code": student.school_code,
                "area_code": student.area_code,
                "village_code": student.village_code,
                "recorded_by": principal.username,
                "version": 1,
            }
        )
    saved = await _upsert(session, rows)
    events = []
    for key, row in saved.items():
        results[accepted[key]]["absence_id"] = row.id
        student, reason = students[key[0]], items[accepted[key]].reason.value
        events.append(
            event(
                "edu.dropout.absence.recorded",
                subject=str(row.id),
                area_code=student.area_code,
                school_code=student.school_code,
                version=row.version,
                data=student_ref(student, key[1])
                | {
                    "absence_id": str(row.id),
                    "date": key[1].isoformat(),
                    "reason": reason,
                    "previous_reason": previous[key],
                },
            )
        )
    await emit_all(session, events)
    opened = await _follow_rules(session, principal, students, calendars, saved, items, accepted, previous)
    for r in results:
        if r["result"] in ("created", "updated", "unchanged"):
            r["case_id"] = opened.get(r["student_id"])
    counts = {k: sum(r["result"] == k for r in results) for k in ("created", "updated", "unchanged")}
    return {
        "items": results,
        **counts,
        "failed": sum(r["result"] == "error" for r in results),
        "cases_opened": len(opened),
    }


async def _follow_rules(session, principal, students, calendars, saved, items, accepted, previous) -> dict:
    """Check pending returns of the students touched, then the opening rule for those without a case."""
    touched = list({sid for sid, _ in saved})
    if not touched:
        return {}
    await check_returns(session, await pending_of(session, touched), today=today_local())
    active = set(
        (
            await session.execute(
                select(Case.student_id).where(Case.student_id.in_(touched), Case.status.in_(ACTIVE_STATUSES))
            )
        ).scalars()
    )
    posted: dict[uuid.UUID, list[date]] = {}
    explained = []
    for sid, d in saved:
        if items[accepted[(sid, d)]].reason.value == "unexplained":
            if sid not in active:
                posted.setdefault(sid, []).append(d)
        elif previous[(sid, d)] == "unexplained":
            explained.append(f"reach_family:{sid}")
    if explained:
        await complete_tasks(session, Task.key.in_(explained), by=principal.username)
    return await apply_rules(
        session,
        students=students,
        posted=posted,
        calendars=calendars,
        threshold=get_settings().dropout_case_after_days,
        window=get_settings().dropout_case_window_days,
        actor=principal.username,
    )
