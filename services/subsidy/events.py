"""Subsidy events: past-tense facts written to the outbox with the change."""

from pydantic import BaseModel, Field
from sqlalchemy import String, cast, func, literal, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.catalog import EventSpec
from services.kit.events import Emitter
from services.subsidy.db import outbox

SOURCE = "subsidy"


emit = Emitter(outbox, SOURCE)
"""Record a subsidy event in the outbox, in the current transaction."""


async def emit_lines(session: AsyncSession, event_type: str, *where: ColumnElement) -> int:
    """Write one event per disbursement line matching `where`, in SQL (batches have thousands of lines)."""
    from services.subsidy.batches.models import Disbursement as D

    event_id = func.gen_random_uuid()
    lines = select(event_id.label("eid"), D.__table__).where(*where).subquery()
    c = lines.c
    data = func.jsonb_build_object(
        "id", c.id, "student_id", c.student_id, "household_id", c.household_id,
        "policy_code", c.policy_code, "policy_kind", c.policy_kind, "semester", c.semester,
        "amount_fen", c.amount_fen, "batch_id", c.batch_id, "kind", c.kind, "status", c.status,
        "school_code", c.school_code, "area_code", c.area_code, "village_code", c.village_code,
        "stage", c.stage, "grade", c.grade, "boarding", c.boarding, "categories", c.categories,
        "paid_on", c.paid_on, "reason", c.removed_reason,
    )  # fmt: skip
    payload = func.jsonb_build_object(
        "id", c.eid, "type", literal(event_type, String), "source", literal(SOURCE, String),
        "time", func.to_char(func.timezone("UTC", func.clock_timestamp()), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
        "subject", cast(c.id, String), "area_code", c.area_code, "school_code", c.school_code,
        "version", c.version, "data", data,
    )  # fmt: skip
    stmt = outbox.insert().from_select(
        ["id", "type", "subject", "payload"],
        select(c.eid, literal(event_type, String), cast(c.id, String), payload),
    )
    result = await session.execute(stmt)
    return result.rowcount or 0


class PolicyData(BaseModel):
    id: str
    code: str
    revision: int
    name: str
    kind: str = Field(description="scholarship, loan, grant, living_allowance, waiver (奖贷助补免)")
    stages: list[str]
    categories: list[str] = Field(description="Eligible aid categories; empty = every student of the stages")
    boarding_only: bool
    non_boarders_only: bool
    amount_fen: int = Field(description="Per semester, in fen")
    years: list[int]
    area_code: str


class BatchData(BaseModel):
    id: str
    kind: str = Field(description="regular or back_pay (补发)")
    school_code: str
    area_code: str
    semester: str
    policy_code: str
    policy_kind: str
    status: str
    awaiting: str | None = Field(description="Whose approval is next while submitted: township or county")
    level: str | None = Field(default=None, description="approved/rejected: at which level")
    lines: int
    total_fen: int
    actor: str
    note: str | None = None
    publicity_start: str | None = None
    publicity_end: str | None = None
    paid_on: str | None = None
    reference: str | None = None


class DisbursementData(BaseModel):
    """One line, with everything figures need (stage, categories, household, areas)."""

    id: str
    student_id: str
    household_id: str | None
    policy_code: str
    policy_kind: str
    semester: str
    amount_fen: int
    batch_id: str | None
    kind: str
    status: str
    school_code: str
    area_code: str
    village_code: str | None
    stage: str | None
    grade: int | None
    boarding: bool
    categories: list[str]
    paid_on: str | None
    reason: str | None = Field(default=None, description="cancelled: why")


class ObjectionData(BaseModel):
    id: str
    batch_id: str
    line_id: str
    student_id: str
    status: str
    reason: str
    resolution: str | None = None
    actor: str


class NoticeAckData(BaseModel):
    student_id: str
    semester: str
    acknowledged_at: str
    acknowledged_by: str
    role: str


CATALOG = [
    EventSpec("edu.subsidy.policy.created", "A subsidy policy was created", PolicyData),
    EventSpec("edu.subsidy.policy.updated", "A policy not yet used was changed in place", PolicyData),
    EventSpec("edu.subsidy.policy.versioned", "A policy in use got a new revision", PolicyData),
    EventSpec("edu.subsidy.batch.generated", "A batch was generated (draft)", BatchData),
    EventSpec("edu.subsidy.batch.regenerated", "A draft or rejected batch was generated again", BatchData),
    EventSpec("edu.subsidy.batch.submitted", "A school submitted a batch (public notice starts)", BatchData),
    EventSpec("edu.subsidy.batch.approved", "A batch was approved at a level (township, county)", BatchData),
    EventSpec("edu.subsidy.batch.rejected", "A batch was sent back with a reason", BatchData),
    EventSpec("edu.subsidy.batch.paid", "A batch was paid", BatchData),
    EventSpec("edu.subsidy.batch.line_removed", "A line was removed after an upheld objection", BatchData),
    EventSpec("edu.subsidy.batch.cancelled", "A batch was cancelled before approval", BatchData),
    EventSpec("edu.subsidy.disbursement.proposed", "A back-payment (补发) was proposed", DisbursementData),
    EventSpec("edu.subsidy.disbursement.paid", "A line was paid (statistics count these)", DisbursementData),
    EventSpec("edu.subsidy.disbursement.cancelled", "A line was removed or cancelled", DisbursementData),
    EventSpec("edu.subsidy.objection.raised", "An objection was raised during public notice", ObjectionData),
    EventSpec("edu.subsidy.objection.resolved", "An objection was upheld or dismissed", ObjectionData),
    EventSpec("edu.subsidy.notice.acknowledged", "A parent acknowledged a notice (告知书)", NoticeAckData),
]
