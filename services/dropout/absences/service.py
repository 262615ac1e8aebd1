"""Absences: posted one or many at a time, idempotent per student and day; the rules follow."""

import json
import uuid
from collections.abc import Awaitable, Callable
from datetime import date

from sqlalchemy import select, text
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.events import validate
from services.dropout.absences.models import Absence
from services.dropout.absences.rules import any_ids, apply_rules
from services.dropout.absences.schemas import AbsenceIn
from services.dropout.calendar.service import Calendar, calendars_for
from services.dropout.cases.checks import check_returns, pending_of
from services.dropout.cases.models import Case
from services.dropout.domain import ACTIVE_STATUSES, is_compulsory, today_local
from services.dropout.events import event
from services.dropout.students.models import Student
from services.dropout.students.scope import student_ref, visible_to
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import complete_tasks
from services.kit import client_ids
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.events import note_position
from services.kit.rls import as_system, within
from services.kit.settings import get_settings

WRITERS = (Role.admin, Role.county, Role.school)
CatchUp = Callable[[], Awaitable[object]]


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


# One statement stores the posted absences and writes their events: the rows already there are read
# in the same snapshot (an absence posted again unchanged is left alone), the others are inserted or
# updated, and each stored row gets its `edu.dropout.absence.recorded` outbox row, built in SQL from
# an envelope made (and checked) once per request.
STORE = text(
    """
WITH input AS (
    SELECT * FROM unnest(CAST(:ids AS uuid[]), CAST(:student_ids AS uuid[]), CAST(:dates AS date[]),
        CAST(:reasons AS text[]), CAST(:notes AS text[]), CAST(:schools AS text[]), CAST(:areas AS text[]),
        CAST(:villages AS text[]), CAST(:stages AS text[]), CAST(:grades AS int[]),
        CAST(:births AS text[]), CAST(:compulsory AS boolean[]))
        AS i(id, student_id, date, reason, note, school_code, area_code, village_code, stage, grade,
             birth_date, compulsory)
),
old AS (
    SELECT i.student_id, i.date, a.id, a.reason, a.note
    FROM input i JOIN dropout.absence a ON a.student_id = i.student_id AND a.date = i.date
),
changed AS (
    SELECT i.*, o.reason AS old_reason, o.note AS old_note
    FROM input i LEFT JOIN old o ON o.student_id = i.student_id AND o.date = i.date
    WHERE o.id IS NULL OR o.reason <> i.reason OR (i.note IS NOT NULL AND i.note IS DISTINCT FROM o.note)
),
saved AS (
    INSERT INTO dropout.absence AS a (id, student_id, date, reason, note, school_code, area_code,
        village_code, recorded_by, version)
    SELECT id, student_id, date, reason, coalesce(note, old_note), school_code, area_code, village_code,
        :actor, 1
    FROM changed
    ON CONFLICT (student_id, date) DO UPDATE SET reason = excluded.reason, note = excluded.note,
        recorded_by = excluded.recorded_by, version = a.version + 1, updated_at = now()
    RETURNING a.id, a.student_id, a.date, a.version
),
events AS (
    INSERT INTO dropout.outbox (id, type, subject, payload)
    SELECT s.event_id, :type, s.id::text, CAST(:envelope AS jsonb) || jsonb_build_object(
        'id', s.event_id, 'subject', s.id::text, 'area_code', c.area_code, 'school_code', c.school_code,
        'version', s.version, 'data', jsonb_build_object(
            'student_id', c.student_id, 'school_code', c.school_code, 'area_code', c.area_code,
            'village_code', c.village_code, 'stage', c.stage, 'grade', c.grade,
            'birth_date', c.birth_date, 'compulsory', c.compulsory, 'absence_id', s.id,
            'date', to_char(c.date, 'YYYY-MM-DD'), 'reason', c.reason, 'previous_reason', c.old_reason))
    -- a volatile column keeps the subquery apart: one new id per row
    FROM (SELECT saved.*, gen_random_uuid() AS event_id FROM saved) s
    JOIN changed c ON c.student_id = s.student_id AND c.date = s.date
    RETURNING position, payload
),
written AS (SELECT max(position) AS position, min(payload::text) AS sample FROM events)
SELECT i.student_id, i.date, coalesce(s.id, o.id) AS id, s.version, o.reason AS old_reason,
    o.id IS NOT NULL AS existed, w.position, w.sample
FROM input i
LEFT JOIN saved s ON s.student_id = i.student_id AND s.date = i.date
LEFT JOIN old o ON o.student_id = i.student_id AND o.date = i.date
CROSS JOIN written w
"""
)


async def _store(
    session: AsyncSession, principal: Principal, items: list[AbsenceIn], accepted: dict, students: dict
) -> list:
    """Store the accepted items and their events in one statement; return one row per item: its
    absence id, the version written (None when it was already there unchanged), the previous reason."""
    if not accepted:
        return []
    chosen = [items[n] for n in accepted.values()]
    people = [students[i.student_id] for i in chosen]
    envelope = event(
        "edu.dropout.absence.recorded",
        subject="",
        data=student_ref(people[0], chosen[0].date)
        | {"absence_id": str(uuid.uuid4()), "date": chosen[0].date.isoformat(), "reason": "sick"},
    )
    for key in ("id", "subject", "area_code", "school_code", "version", "data"):
        envelope.pop(key)
    rows = (
        await session.execute(
            STORE,
            {
                "ids": [i.id or uuid.uuid4() for i in chosen],
                "student_ids": [i.student_id for i in chosen],
                "dates": [i.date for i in chosen],
                "reasons": [i.reason.value for i in chosen],
                "notes": [i.note for i in chosen],
                "schools": [s.school_code for s in people],
                "areas": [s.area_code for s in people],
                "villages": [s.village_code for s in people],
                "stages": [s.stage for s in people],
                "grades": [s.grade for s in people],
                "births": [s.birth_date.isoformat() if s.birth_date else None for s in people],
                # the one per-row rule: compulsory as of the absence's school year (dropout.domain)
                "compulsory": [
                    is_compulsory(stage=s.stage, birth_date=s.birth_date, on=i.date)
                    for s, i in zip(people, chosen, strict=True)
                ],
                "actor": principal.username,
                "type": "edu.dropout.absence.recorded",
                "envelope": json.dumps(envelope, ensure_ascii=False),
            },
        )
    ).all()
    if rows and rows[0].sample is not None:
        validate(json.loads(rows[0].sample))  # every event has one shape: check one (as emit does)
    if rows:
        note_position(session, rows[0].position)
    return rows


async def _students(session: AsyncSession, principal: Principal, ids: list[uuid.UUID]) -> dict:
    # Plain rows (no ORM objects): the rules read their fields only.
    stmt = select(*Student.__table__.c).where(Student.id == any_ids(ids), visible_to(principal))
    rows = await session.execute(stmt)
    return {s.id: s for s in rows.all()}


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
    stored = await _store(session, principal, items, accepted, students)
    saved, previous = {}, {}
    for row in stored:
        key = (row.student_id, row.date)
        n = accepted[key]
        results[n]["absence_id"] = row.id
        if row.version is None:
            results[n]["result"] = "unchanged"
            continue
        results[n]["result"] = "updated" if row.existed else "created"
        saved[key], previous[key] = row, row.old_reason
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
                select(Case.student_id).where(
                    Case.student_id == any_ids(touched), Case.status.in_(ACTIVE_STATUSES)
                )
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
