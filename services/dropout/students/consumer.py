"""Keep `student` in step with registry student events; a compulsory-age dropout opens a case.

A newly registered student whose ID number hash is a roster child's takes over that child's case
(cases/linking.py), in the same transaction as its own row.
"""

import uuid
from datetime import date
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.events import Event
from services.contracts.events.bulk import student_events
from services.dropout.cases.linking import LOCK_NAMESPACE, link_registered, lock_child
from services.dropout.cases.opening import open_case
from services.dropout.domain import CaseSource, is_compulsory
from services.dropout.students.models import Student
from services.dropout.students.unregistered import NOT_REGISTERED, stand_in_id

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


async def _upsert(session: AsyncSession, rows: list[dict[str, Any]]) -> None:
    """Insert or update students unless a newer version is held (hash and mask are never erased)."""
    table = Student.__table__
    stmt = insert(table)  # compiled once, rows as parameter sets (a many-row .values() compiles slowly)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={k: stmt.excluded[k] for k in rows[0] if k != "id"}
        | {k: func.coalesce(stmt.excluded[k], table.c[k]) for k in KEPT},
        where=table.c.version < stmt.excluded.version,
    )
    await session.execute(stmt, rows)


async def lock_children(session: AsyncSession, hashes: list[str]) -> None:
    """Take lock_child's lock of every child at once, in one order (two chunks never deadlock)."""
    if hashes:
        await session.execute(
            text(
                "SELECT pg_advisory_xact_lock(:ns, k) FROM "
                "(SELECT DISTINCT hashtext(h) AS k FROM unnest(CAST(:hs AS text[])) AS h ORDER BY k) AS keys"
            ),
            {"ns": LOCK_NAMESPACE, "hs": hashes},
        )


async def on_bulk_students(session: AsyncSession, event: Event) -> None:
    """Apply an import chunk set-wise, as on_student_event would apply each of its students.

    An import opens no case (no enrollment change travels in a chunk); a registered child a
    roster stand-in waits for takes over its cases, as one registration does.
    """
    expanded = {e.subject: e for e in student_events(event)}  # a chunk names a student once
    if not expanded:
        return
    rows = [_values(e) for e in expanded.values()]
    hashes = sorted({r["id_number_hash"] for r, e in zip(rows, expanded.values(), strict=True)
                     if r["id_number_hash"] and e.type.endswith(".student.created")})  # fmt: skip
    await lock_children(session, hashes)
    await _upsert(session, rows)
    if not hashes:
        return
    stand_ins = {stand_in_id(h): h for h in hashes}
    waiting = set(
        (
            await session.execute(
                select(Student.id_number_hash).where(
                    Student.id.in_(list(stand_ins)), Student.status == NOT_REGISTERED
                )
            )
        ).scalars()
    )
    for row in rows:
        if row["id_number_hash"] in waiting:
            student = await session.get(Student, row["id"], populate_existing=True)
            if student is not None:
                await link_registered(session, student)


async def on_student_event(session: AsyncSession, event: Event) -> None:
    """Upsert the student unless a newer version is held; open a case for a compulsory-age dropout."""
    values = _values(event)
    registration = event.type.endswith(".student.created") and values["id_number_hash"]
    if registration:  # the roster consumer may be keeping a stand-in for this child right now
        await lock_child(session, values["id_number_hash"])
    await _upsert(session, [values])
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
