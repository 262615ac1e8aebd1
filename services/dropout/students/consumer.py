"""Keep `student` in step with registry student events; a compulsory-age dropout opens a case."""

import uuid
from datetime import date
from typing import Any

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.events import Event
from services.dropout.cases.opening import open_case
from services.dropout.domain import CaseSource, is_compulsory
from services.dropout.students.models import Student


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
        "version": event.version or 0,
        "updated_at": event.time,
    }


async def on_student_event(session: AsyncSession, event: Event) -> None:
    """Upsert the student unless a newer version is held; open a case for a compulsory-age dropout."""
    values = _values(event)
    table = Student.__table__
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={k: stmt.excluded[k] for k in values if k != "id"},
        where=table.c.version < stmt.excluded.version,
    )
    await session.execute(stmt)
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
