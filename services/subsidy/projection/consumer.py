"""Keep the subsidy service's copy of students, households and schools from registry events; spot back-pay."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, local_date
from services.contracts.events import Event
from services.contracts.events.bulk import student_events
from services.subsidy.batches.backpay import DatedStatus, owed_semesters, propose_for
from services.subsidy.projection.models import HouseholdFact, HouseholdStatusFact, SchoolFact, StudentFact


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


async def upsert_newer(session: AsyncSession, model, key: str, values: dict[str, Any]) -> bool:
    """Insert or update a projected row unless we hold a newer version; return whether it applied."""
    return bool(await upsert_newer_many(session, model, key, [values]))


async def upsert_newer_many(session: AsyncSession, model, key: str, rows: list[dict[str, Any]]) -> set:
    """upsert_newer for many rows in one statement; return the keys written."""
    table = model.__table__
    stmt = insert(table)  # compiled once, rows as parameter sets (a many-row .values() compiles slowly)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={k: stmt.excluded[k] for k in rows[0] if k != key},
        where=table.c.version < stmt.excluded.version,
    ).returning(table.c[key])
    return set((await session.execute(stmt, rows)).scalars())


def _student_values(event: Event) -> dict[str, Any]:
    d = event.data
    return {
        "student_id": uuid.UUID(d.id),
        "name": d.name,
        "id_number_masked": d.id_number_masked or "",
        "id_number_hash": d.id_number_hash,
        "school_code": d.school_code,
        "area_code": d.area_code,
        "village_code": d.village_code,
        "household_id": _uuid(d.household_id),
        "stage": d.stage,
        "grade": d.grade,
        "boarding": bool(d.boarding),
        "status": d.status,
        "categories": sorted(d.categories or []),
        "version": event.version or 0,
        "updated_at": event.time,
    }


async def on_student(session: AsyncSession, event: Event) -> None:
    """Project a student; one who gains an aid category may be owed a back-payment.

    Back-pay is proposed for the semester of the event's time (a replayed stream proposes for the
    semester the change happened in, not today's); a household's dated statuses reach further back.
    """
    await _students(session, [_student_values(event)])


async def on_bulk_students(session: AsyncSession, event: Event) -> None:
    """Apply an import chunk set-wise, as on_student would apply each of its students."""
    rows = {r["student_id"]: r for r in map(_student_values, student_events(event))}
    if rows:
        await _students(session, list(rows.values()))


async def _students(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Upsert students (a newer version wins); propose back-pay for those who gained a category."""
    ids = [r["student_id"] for r in rows]
    before = dict(
        (
            await session.execute(
                select(StudentFact.student_id, StudentFact.categories).where(StudentFact.student_id.in_(ids))
            )
        ).all()
    )
    applied = await upsert_newer_many(session, StudentFact, "student_id", rows)
    owed: dict[tuple[str, str], list[uuid.UUID]] = {}
    for values in rows:
        sid = values["student_id"]
        gained = sorted(set(values["categories"]) - set(before.get(sid) or []))
        if sid in applied and before.get(sid) is not None and gained:
            semester = str(Semester.of(local_date(values["updated_at"])))
            owed.setdefault((semester, f"categories now include {', '.join(gained)}"), []).append(sid)
    for (semester, why), students in owed.items():
        await propose_for(session, students, owed={semester: why})


def _dated(raw) -> DatedStatus | None:
    try:
        return DatedStatus(
            raw.kind, date.fromisoformat(raw.since), date.fromisoformat(raw.until) if raw.until else None
        )
    except (TypeError, ValueError):
        return None  # an unreadable date covers nothing


async def on_household(session: AsyncSession, event: Event) -> None:
    """Keep a household's dated statuses; a status dated back into paid semesters is owed back-pay."""
    d = event.data
    household_id = uuid.UUID(d.id)
    rows = await session.execute(
        select(HouseholdStatusFact).where(HouseholdStatusFact.household_id == household_id)
    )
    before = [DatedStatus(r.kind, r.since, r.until) for r in rows.scalars().all()]
    values = {"household_id": household_id, "area_code": d.area_code, "version": event.version or 0,
              "updated_at": event.time}  # fmt: skip
    if not await upsert_newer(session, HouseholdFact, "household_id", values):
        return
    after = sorted(
        {s for s in map(_dated, d.statuses or []) if s is not None}, key=lambda s: (s.kind, s.since)
    )
    table = HouseholdStatusFact.__table__
    await session.execute(delete(table).where(table.c.household_id == household_id))
    if after:
        rows = [
            {"household_id": household_id, "kind": s.kind, "since": s.since, "until": s.until} for s in after
        ]
        await session.execute(insert(table).values(rows).on_conflict_do_nothing())
    owed = owed_semesters(before, after, local_date(event.time))
    if not owed:
        return
    children = await session.execute(
        select(StudentFact.student_id).where(StudentFact.household_id == household_id)
    )
    ids = list(children.scalars())
    if ids:
        await propose_for(session, ids, owed=owed)


async def on_school(session: AsyncSession, event: Event) -> None:
    d = event.data
    values = {
        "code": d.code,
        "name": d.name,
        "area_code": d.area_code,
        "stages": list(d.stages or []),
        "version": event.version or 0,
        "updated_at": event.time,
    }
    await upsert_newer(session, SchoolFact, "code", values)


async def on_registry_event(session: AsyncSession, event: Event) -> None:
    """Dispatch a registry event to its projection."""
    entity = event.type.split(".")[2]
    handler = {"student": on_student, "household": on_household, "school": on_school}.get(entity)
    if handler is not None:
        await handler(session, event)
