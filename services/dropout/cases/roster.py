"""A child the poverty platform lists but no school has (statistics' roster check): open a case.

When the registry knows the child (say, dropped out), the case is the student's. When it does not,
the child gets a record of its own here, keyed by its ID number's keyed hash and placed in its
household's village, so the township and county (and the village cadres) can follow it up.
"""

import uuid
from datetime import UTC, date, datetime

from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.events import Event
from services.dropout.cases.opening import open_case
from services.dropout.domain import CaseSource
from services.dropout.students.models import Student

# Children the registry does not know get a stable id derived from their ID number's keyed hash.
UNREGISTERED = uuid.UUID("5b0c1a52-6c1e-4b8e-9d51-0d3a7f7c2e11")


def child_id(id_number_hash: str) -> uuid.UUID:
    return uuid.uuid5(UNREGISTERED, id_number_hash)


async def on_child_not_in_school(session: AsyncSession, event: Event) -> None:
    """Open a case (source `verification`) for a roster child enrolled nowhere, unless one is active."""
    d = event.data
    student = await session.get(Student, uuid.UUID(d.student_id)) if d.student_id else None
    if student is None:
        area = d.area_code
        values = {
            "id": child_id(d.id_number_hash),
            "name": d.name,
            "area_code": area,
            "village_code": area if len(area) == 12 else None,
            "status": "not_registered",
            "birth_date": date.fromisoformat(d.birth_date),
            "version": 0,
            "updated_at": datetime.now(UTC),
        }
        await session.execute(insert(Student.__table__).values(**values).on_conflict_do_nothing())
        student = await session.get(Student, values["id"])
    await open_case(
        session,
        student=student,
        source=CaseSource.verification,
        opened_on=calendar.today(),
        actor="platform-roster",
        note=f"扶贫平台名单核查发现未在校 (户编号 {d.household_platform_id}, {d.semester}, "
        f"第{d.roster_version}版名单)",
    )
