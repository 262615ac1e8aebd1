"""Keep `student` in step with registry student events; a compulsory-age dropout opens a case.

A newly registered student whose ID number hash is a roster child's takes over that child's case
(cases/linking.py), in the same transaction as its own row.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.events import Event
from services.dropout.cases.linking import link_registered, lock_child
from services.dropout.cases.opening import open_case
from services.dropout.domain import CaseSource, is_compulsory
from services.dropout.students.models import Student

KEPT = ("id_number_hash", "id_number_masked")  # an event without them does not erase them


def _values(event: Event) -> dict[str, Any]:
    d = event.data
    return {
        "id": uuid.UUID(d.id),
        "name": d.name or "",
        "school_code": d.school_code,
        "area_code": d.area_code,
        "village_code": d.village_code,
        "household_id": uuid.UUID(d.household_id) if d.household_id else None,
        "stage": d.stage,
        "grade": d.grade,
        "status": d.status,
        "birth_date": date.fromisoformat(d.birth_date) if d.birth_date else None,
        "groups": d.groups or [],
        "categories": d.categories or [],
        "disability": d.disability,
        "id_number_hash": d.id_number_hash,
        "id_number_masked": d.id_number_masked or None,
        "version": event.version or 0,
        "updated_at": event.time,
    }


async def on_student_event(session: AsyncSession, event: Event) -> None:
    """Upsert the student unless a newer version is held; open a case for a compulsory-age dropout."""
    values = _values(event)
    registration = event.type.endswith(".student.created") and values["id_number_hash"]
    if registration:  # the roster consumer may be keeping a stand-in for this child right now
        await lock_child(session, values["id_number_hash"])
    table = Student.__table__
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={k: stmt.excluded[k] for k in values if k != "id"}
        | {k: func.coalesce(stmt.excluded[k], table.c[k]) for k in KEPT},
        where=table.c.version < stmt.excluded.version,
    )
    await session.execute(stmt)
    if registration:
        student = await session.get(Student, values["id"], populate_existing=True)
        if student is not None:
            await link_registered(session, student)
    change = getattr(event.data, "change", None)  # enrollment_changed events carry the change
    if change is None or change.kind != "drop_out":
        return
    student = await session.get(Student, values["id"], populate_existing=True)
    effective = date.fromisoformat(change.effective_date)
    # A later event (a return) may already be applied: only a student still out gets a case.
    if student is None or student.status != "dropped_out":
        return
    if not is_compulsory(stage=student.stage, birth_date=student.birth_date, on=effective):
        return
    await open_case(
        session,
        student=student,
        source=CaseSource.enrollment,
        opened_on=effective,
        absent_since=effective,
        actor=change.actor or "registry",
        note=change.reason,
    )
