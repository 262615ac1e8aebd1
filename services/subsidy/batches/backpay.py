"""Back-payment (补发): a student who becomes eligible after the school's batch went up is proposed."""

import uuid
from datetime import date

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.subsidy.batches.generation import LIVE_INDEX, reason_of
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.domain import AT_SCHOOL, current_semester, parse_semester
from services.subsidy.events import emit_lines
from services.subsidy.policies.models import Policy
from services.subsidy.policies.service import policy_for_year
from services.subsidy.projection.models import StudentFact

# A regular batch in one of these states no longer takes new students by regeneration.
BEYOND_DRAFT = ("submitted", "approved", "paid", "rejected")


async def is_eligible(session: AsyncSession, policy: Policy, student: StudentFact) -> bool:
    """Whether the student passes the policy's rule (generation.reason_of: eligibility stated once)."""
    reason = select(reason_of(policy)).where(StudentFact.student_id == student.student_id)
    return (await session.execute(reason)).scalar_one_or_none() is None


async def propose_for(
    session: AsyncSession, student_ids: list[uuid.UUID], *, today: date | None = None
) -> int:
    """Propose this semester's lines a student is now owed where the school's batch is already up."""
    semester = current_semester(today)
    year, _ = parse_semester(semester)
    proposed = 0
    students = (
        (await session.execute(select(StudentFact).where(StudentFact.student_id.in_(student_ids))))
        .scalars()
        .all()
    )
    for student in students:
        if student.status not in AT_SCHOOL or not student.school_code:
            continue
        batches = (
            await session.execute(
                select(Batch).where(
                    Batch.school_code == student.school_code,
                    Batch.semester == semester,
                    Batch.kind == "regular",
                    Batch.status.in_(BEYOND_DRAFT),
                )
            )
        ).scalars()
        for batch in batches.all():
            policy = await policy_for_year(session, batch.policy_code, year)
            if policy is not None and await is_eligible(session, policy, student):
                proposed += await _propose(session, student, batch, policy)
    return proposed


async def _propose(session: AsyncSession, student: StudentFact, batch: Batch, policy: Policy) -> int:
    table = Disbursement.__table__
    stmt = (
        insert(table)
        .values(
            id=uuid.uuid4(),
            kind="back_pay",
            student_id=student.student_id,
            student_name=student.name,
            id_number_masked=student.id_number_masked,
            household_id=student.household_id,
            school_code=batch.school_code,
            area_code=batch.area_code,
            village_code=student.village_code,
            stage=student.stage,
            grade=student.grade,
            boarding=student.boarding,
            categories=student.categories,
            policy_code=policy.code,
            policy_id=policy.id,
            policy_kind=policy.kind,
            semester=batch.semester,
            amount_fen=policy.amount_fen,
            status="proposed",
        )
        .on_conflict_do_nothing(
            index_elements=["student_id", "policy_code", "semester"], index_where=LIVE_INDEX
        )
        .returning(table.c.id)
    )
    line_id = (await session.execute(stmt)).scalar_one_or_none()
    if line_id is None:
        return 0
    await emit_lines(session, "edu.subsidy.disbursement.proposed", table.c.id == line_id)
    return 1
