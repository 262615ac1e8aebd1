"""Keep the subsidy service's copy of students, households and schools from registry events; spot back-pay."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, local_date
from services.contracts.events import Event
from services.subsidy.batches.backpay import DatedStatus, owed_semesters, propose_for
from services.subsidy.projection.models import HouseholdFact, HouseholdStatusFact, SchoolFact, StudentFact


def _uuid(value: str | None) -> uuid.UUID | None:
    return uuid.UUID(value) if value else None


async def upsert_newer(session: AsyncSession, model, key: str, values: dict[str, Any]) -> bool:
    """Insert or update a projected row unless we hold a newer version; return whether it applied."""
    table = model.__table__
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c[key]],
        set_={k: stmt.excluded[k] for k in values if k != key},
        where=table.c.version < stmt.excluded.version,
    ).returning(table.c[key])
    return (await session.execute(stmt)).first() is not None


async def on_student(session: AsyncSession, event: Event) -> None:
    """Project a student; one who gains an aid category may be owed a back-payment.

    Back-pay is proposed for the semester of the event's time (a replayed stream proposes for the
    semester the change happened in, not today's); a household's dated statuses reach further back.
    """
    d = event.data
    student_id = uuid.UUID(d.id)
    before = (
        await session.execute(select(StudentFact.categories).where(StudentFact.student_id == student_id))
    ).scalar_one_or_none()
    values = {
        "student_id": student_id,
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
    applied = await upsert_newer(session, StudentFact, "student_id", values)
    gained = sorted(set(values["categories"]) - set(before or []))
    if applied and before is not None and gained:
        semester = str(Semester.of(local_date(values["updated_at"])))
        await propose_for(
            session, [student_id], owed={semester: f"categories now include {', '.join(gained)}"}
        )


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
