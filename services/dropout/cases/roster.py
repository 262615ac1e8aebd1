"""A child the poverty platform lists but no school has (statistics' roster check): open a case.

When the projection knows the child as a registry student (by id, or by its ID number's hash), the
case is that student's. When it does not, the child gets a stand-in row (students/unregistered.py)
placed in its household's village, so the village cadre, the township and the county follow it up;
the case moves onto the registry's student once the child is registered (cases/linking.py).
"""

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.events import Event
from services.dropout.cases.linking import lock_child
from services.dropout.cases.opening import open_case
from services.dropout.domain import CaseSource
from services.dropout.students.models import Student
from services.dropout.students.unregistered import NOT_REGISTERED, row_of, stand_in

# What a later roster may correct on a stand-in (the registry is not there to say otherwise).
ROSTER_FIELDS = (
    "name", "area_code", "village_code", "birth_date", "id_number_masked", "household_platform_id",
)  # fmt: skip


async def registered(session: AsyncSession, *, student_id: str | None, id_number_hash: str) -> Student | None:
    """Return the registry student the roster row is about, if the projection holds it."""
    if student_id:
        student = await session.get(Student, uuid.UUID(student_id))
        if student is not None and student.status != NOT_REGISTERED:
            return student
    # One ID number is one student; should the projection hold two, the latest record.
    stmt = (
        select(Student)
        .where(Student.id_number_hash == id_number_hash, Student.status != NOT_REGISTERED)
        .order_by(Student.updated_at.desc())
    )
    return (await session.execute(stmt)).scalars().first()


async def keep_stand_in(session: AsyncSession, child: Student) -> Student:
    """Insert the stand-in, or bring one already kept up to this roster; return it."""
    table = Student.__table__
    stmt = insert(table).values(**row_of(child))
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.id],
        set_={k: stmt.excluded[k] for k in (*ROSTER_FIELDS, "updated_at")},
        where=table.c.status == NOT_REGISTERED,
    )
    await session.execute(stmt)
    return await session.get(Student, child.id, populate_existing=True)


async def on_child_not_in_school(session: AsyncSession, event: Event) -> None:
    """Open a case (source `verification`) for a roster child enrolled nowhere, unless one is active."""
    d = event.data
    await lock_child(session, d.id_number_hash)  # against the student consumer linking the same child
    student = await registered(session, student_id=d.student_id, id_number_hash=d.id_number_hash)
    if student is None:
        birth = date.fromisoformat(d.birth_date) if d.birth_date else None
        child = stand_in(
            id_number_hash=d.id_number_hash,
            name=d.name,
            id_number_masked=d.id_number_masked,
            birth_date=birth,
            area_code=d.area_code,
            household_platform_id=d.household_platform_id,
        )
        student = await keep_stand_in(session, child)
    await open_case(
        session,
        student=student,
        source=CaseSource.verification,
        opened_on=calendar.today(at=event.time),  # the day the roster found the child, also on a replay
        actor="platform-roster",
        note=f"扶贫平台名单核查发现未在校 (户编号 {d.household_platform_id or '-'}, {d.semester}, "
        f"第{d.roster_version}版名单)",
    )
