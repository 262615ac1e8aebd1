"""Notices in bulk: every 告知书 of a batch, a school or a village for one semester, to print at once.

The children are those with a paid line in the semester (a notice says what was paid), inside the
caller's scope; each gets the same notice as `GET /notices/{student_id}` (acknowledgements stay per
child). Bounded: at most `MAX_NOTICES` children per document (narrow to a school or a village).
"""

import uuid

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.errors import Invalid, NotFound
from services.kit.rls import within
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.notices.service import build_notice, students_visible_to
from services.subsidy.projection.models import StudentFact

MAX_NOTICES = 3000


async def notices_for(
    session: AsyncSession,
    principal: Principal,
    *,
    semester: str | None,
    batch_id: uuid.UUID | None,
    school_code: str | None,
    village_code: str | None,
) -> tuple[str, list[dict]]:
    """The semester and the notices of every child paid in it, by batch, school or village."""
    chosen = [name for name, v in (("batch_id", batch_id), ("school_code", school_code),
                                   ("village_code", village_code)) if v]  # fmt: skip
    if len(chosen) != 1:
        raise Invalid(chosen[1:] or ["batch_id"], "Name exactly one of batch_id, school_code or village_code")
    paid = select(Disbursement.student_id).where(Disbursement.status == "paid")
    if batch_id:
        batch = await session.get(Batch, batch_id)
        if batch is None:
            raise NotFound("No such batch")
        semester = semester or batch.semester
        paid = paid.where(Disbursement.batch_id == batch_id)
    elif school_code:
        paid = paid.where(Disbursement.school_code == school_code)
    else:
        paid = paid.where(within(Disbursement.village_code, village_code))
    if not semester:
        raise Invalid(["semester"], "Name the semester (a batch gives its own)")
    paid = paid.where(Disbursement.semester == semester)
    stmt = (
        select(StudentFact)
        .where(StudentFact.student_id.in_(paid), students_visible_to(principal))
        .order_by(StudentFact.school_code, StudentFact.grade, StudentFact.name, StudentFact.student_id)
        .limit(MAX_NOTICES + 1)
    )
    students = (await session.execute(stmt)).scalars().all()
    if len(students) > MAX_NOTICES:
        too_many = f"More than {MAX_NOTICES} notices: print a school or a village at a time"
        raise Invalid(chosen, too_many)
    return semester, [await build_notice(session, s, semester) for s in students]
