"""Back-payment (补发): a student owed aid for semesters whose batches went up without it is proposed.

A household status that begins earlier than semesters already paid (registered poor since 1 March,
entered in December) is owed for every semester it covers since it began, back to
`NOL_BACKPAY_HORIZON_SEMESTERS` (default 4, the current one included): one `proposed` line per
semester and policy, at that semester's policy revision, with the reason. The batches looked at are
the semester's regular batches beyond draft at the student's school, and those that listed the
student as excluded (the school it was at then). Eligibility is generation's `reason_of`, judged in
that semester; facts a batch recorded then (excluded only for its category) stand for the past.
"""

import uuid
from dataclasses import dataclass
from datetime import date

from sqlalchemy import or_, select, true
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.contracts.vocabulary import HOUSEHOLD_STATUS_NAMES
from services.kit.settings import get_settings
from services.subsidy.batches import items
from services.subsidy.batches.categories import KIND_CATEGORY, categories_at, covers, has_category
from services.subsidy.batches.generation import LIVE_INDEX, reason_of
from services.subsidy.batches.models import Batch, Disbursement, Exclusion
from services.subsidy.events import emit_lines
from services.subsidy.policies.models import Policy
from services.subsidy.policies.service import policy_for_semester
from services.subsidy.projection.models import StudentFact

# A regular batch in one of these states no longer takes new students by regeneration.
BEYOND_DRAFT = ("submitted", "approved", "paid", "rejected")
# Reasons a batch recorded about the student then, which today's projection cannot judge again.
PAST_FACTS = ("status", "stage", "boarding")


@dataclass(frozen=True)
class DatedStatus:
    kind: str
    since: date
    until: date | None = None


def horizon(today: date) -> list[Semester]:
    """Return the semesters back-pay reaches on `today`, oldest first (the current one included)."""
    semesters = [Semester.of(today)]
    while len(semesters) < max(1, get_settings().backpay_horizon_semesters):
        semesters.append(semesters[-1].previous())
    return semesters[::-1]


def _categories(statuses: list[DatedStatus], semester: Semester) -> set[str]:
    return {
        KIND_CATEGORY[s.kind]
        for s in statuses
        if s.kind in KIND_CATEGORY and covers(s.since, s.until, semester)
    }


def owed_semesters(before: list[DatedStatus], after: list[DatedStatus], today: date) -> dict[str, str]:
    """Return semester → why, for each semester in the horizon the new statuses cover with a new category."""
    owed = {}
    for semester in horizon(today):
        had = _categories(before, semester)
        for s in after:
            if (
                s.kind in KIND_CATEGORY
                and covers(s.since, s.until, semester)
                and KIND_CATEGORY[s.kind] not in had
            ):
                name = HOUSEHOLD_STATUS_NAMES.get(s.kind, s.kind)
                owed[str(semester)] = (
                    f"household {s.kind} since {s.since.isoformat()}（{name}，自{s.since}起）"
                )
                break
    return owed


async def propose_for(session: AsyncSession, student_ids: list[uuid.UUID], *, owed: dict[str, str]) -> int:
    """Propose, for each owed semester, the lines the students are owed where batches are already up."""
    students = (
        (await session.execute(select(StudentFact).where(StudentFact.student_id.in_(student_ids))))
        .scalars()
        .all()
    )
    proposed = 0
    for student in students:
        for semester, why in owed.items():
            for batch in await _batches(session, student, semester):
                proposed += await _propose_if_owed(session, student, batch, why)
    return proposed


async def _batches(session: AsyncSession, student: StudentFact, semester: str) -> list[Batch]:
    listed = select(Exclusion.batch_id).where(Exclusion.student_id == student.student_id)
    stmt = select(Batch).where(
        Batch.semester == semester,
        Batch.kind == "regular",
        Batch.status.in_(BEYOND_DRAFT),
        or_(Batch.school_code == student.school_code, Batch.id.in_(listed)),
    )
    return list((await session.execute(stmt.order_by(Batch.created_at))).scalars().all())


async def _propose_if_owed(session: AsyncSession, student: StudentFact, batch: Batch, why: str) -> int:
    """Propose one line when the student is eligible for the batch's policy in its semester."""
    policy = await policy_for_semester(session, batch.policy_code, batch.semester)
    if policy is None:
        return 0
    excluded = (
        await session.execute(
            select(Exclusion.reason).where(
                Exclusion.batch_id == batch.id, Exclusion.student_id == student.student_id
            )
        )
    ).scalar_one_or_none()
    if excluded == "objection":  # removed after an upheld objection: not proposed again
        return 0
    covered = has_category(batch.semester, policy.categories) if policy.categories else true()
    reason, in_category, categories, item, level = (
        await session.execute(
            select(
                reason_of(policy, batch.semester),
                covered,
                categories_at(batch.semester),
                items.item_of(policy, batch.semester),
                items.hardship_level(batch.semester),
            ).where(StudentFact.student_id == student.student_id)
        )
    ).one()
    owed = reason is None or (excluded == "category" and reason in PAST_FACTS and in_category)
    if not owed or item is None:
        return 0
    paid = items.line_values(policy, batch.semester, item, level)
    return await _propose(session, student, batch, policy, categories=list(categories), why=why, paid=paid)


async def _propose(
    session: AsyncSession,
    student: StudentFact,
    batch: Batch,
    policy: Policy,
    *,
    categories: list[str],
    why: str,
    paid: dict,
) -> int:
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
            categories=categories,
            policy_code=policy.code,
            policy_id=policy.id,
            policy_kind=policy.kind,
            semester=batch.semester,
            **paid,
            status="proposed",
            reason=why[:500],
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
