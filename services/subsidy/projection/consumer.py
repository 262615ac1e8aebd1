"""Keep the subsidy service's own copy of students and schools from registry events; spot back-pay."""

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import local_date
from services.contracts.events import Event
from services.subsidy.batches.backpay import propose_for
from services.subsidy.projection.models import SchoolFact, StudentFact


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
    semester the change happened in, not today's).
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
    if applied and before is not None and set(values["categories"]) - set(before):
        await propose_for(session, [student_id], today=local_date(values["updated_at"]))


async def on_household(session: AsyncSession, event: Event) -> None:
    """A household that became eligible (e.g. dibao) may be owed back-payments for its children."""
    if not event.type.endswith(".status_changed") or not event.data.became:
        return
    household_id = uuid.UUID(event.data.id)
    students = (
        await session.execute(select(StudentFact.student_id).where(StudentFact.household_id == household_id))
    ).scalars()
    ids = list(students)
    if ids:
        await propose_for(session, ids, today=local_date(event.time))


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
