import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import Field

from services.contracts.calendar import EventDate
from services.contracts.vocabulary import ExclusionReason, LineKind
from services.kit.schemas import InputModel, OutputModel, Stored
from services.subsidy.domain import SEMESTER_PATTERN, BatchKind, BatchStatus, Level
from services.subsidy.payments.schemas import PaymentTotals

Semester = Field(pattern=SEMESTER_PATTERN, examples=["2026-autumn"])


class BatchCreate(InputModel):
    school_code: str = Field(pattern=r"^[0-9]{10}$", examples=["2161000123"])
    semester: str = Semester
    policy_code: str = Field(min_length=2, max_length=40, examples=["CN-LIVING-BOARD-PRIMARY"])
    kind: BatchKind = Field(
        default=BatchKind.regular,
        description="`back_pay` (补发) gathers the pending proposals of the school, semester and policy",
    )


class SubmitIn(InputModel):
    publicity_start: EventDate | None = Field(
        default=None,
        description="The day the list was posted for public notice (公示): today by default; may be up to "
        "30 days back (lists posted on the notice board before entry), never in the future",
    )
    note: str | None = Field(default=None, max_length=500)
    version: int | None = None


class VersionIn(InputModel):
    version: int | None = None


class ApproveIn(InputModel):
    note: str | None = Field(default=None, max_length=500)
    version: int | None = None


class RejectIn(InputModel):
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = None


class CancelIn(InputModel):
    reason: str = Field(min_length=1, max_length=500)
    version: int | None = None


class PayIn(InputModel):
    paid_on: EventDate
    reference: str = Field(min_length=1, max_length=100, description="Bank or treasury payment reference")
    version: int | None = None


class LineOut(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    name: str
    stage: str | None
    grade: int | None
    boarding: bool
    categories: list[str]
    village_code: str | None
    household_id: uuid.UUID | None
    amount_fen: int
    item: str | None = Field(default=None, description="The policy rule (item) that set the amount")
    one_off: bool = Field(default=False, description="A one-off item (paid once per child and stage)")
    shares: dict[str, int] | None = Field(
        default=None,
        description="Funding shares in fen (central / provincial / county), summing exactly to amount_fen",
        examples=[{"central": 50001, "provincial": 6250, "county": 6250}],
    )
    hardship_level: str | None = Field(
        default=None, description="The child's county-approved hardship level that school year, if any"
    )
    status: str
    failure_reason: str | None = Field(default=None, description="failed: the bank's reason")
    repays_id: uuid.UUID | None = Field(default=None, description="A re-payment (补付): the failed line")
    payee_masked: str | None = Field(default=None, description="The payee's account on the line, masked")


class ExclusionOut(OutputModel):
    student_id: uuid.UUID
    name: str
    reason: ExclusionReason
    reason_text: str = Field(description="The reason in Chinese")
    where: dict | None = Field(
        default=None,
        description="already_paid / already_in_batch: the other line's batch_id, school_code, status",
    )


class StepOut(OutputModel):
    action: str
    level: Level | None
    actor: str
    role: str
    at: datetime
    note: str | None


class BatchSummary(Stored):
    id: uuid.UUID
    kind: BatchKind
    school_code: str
    area_code: str
    semester: str
    policy_code: str
    policy_revision: int
    policy_name: str
    policy_kind: str
    amount_fen: int = Field(description="The first rule in force that semester (lines may differ)")
    status: BatchStatus
    awaiting: Level | None = Field(description="While submitted: whose approval is next")
    deadline: date
    publicity_start: date | None
    publicity_end: date | None = Field(description="First day the county may approve")
    paid_on: date | None
    reference: str | None
    reject_reason: str | None
    line_count: int
    total_fen: int
    excluded_count: int
    open_objections: int = 0
    generated_at: datetime
    generated_by: str
    as_of: dict[str, int] | None = Field(
        default=None,
        description="What the lines were generated from: each producer's event position "
        "(as in `X-Event-Position`); every write acknowledged before the generation is included",
        examples=[{"registry": 1234}],
    )


class BatchPublic(BatchSummary):
    lines: list[LineOut]
    excluded: list[ExclusionOut]
    history: list[StepOut]
    shares_fen: dict[str, int] = Field(
        default_factory=dict,
        description="The live lines' funding shares summed (fen per central / provincial / county)",
    )
    payments: PaymentTotals | None = Field(
        default=None, description="Paid (and still paid), failed (returned by the bank) and re-paid lines"
    )


class DisbursementPublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    household_id: uuid.UUID | None
    policy_code: str
    policy_kind: str
    semester: str
    amount_fen: int
    item: str | None = Field(default=None, description="The policy rule (item) that set the amount")
    one_off: bool = Field(default=False, description="A one-off item (paid once per child and stage)")
    shares: dict[str, int] | None = Field(
        default=None,
        description="Funding shares in fen (central / provincial / county), summing exactly to amount_fen",
        examples=[{"central": 50001, "provincial": 6250, "county": 6250}],
    )
    hardship_level: str | None = Field(
        default=None, description="The child's county-approved hardship level that school year, if any"
    )
    batch_id: uuid.UUID | None
    kind: LineKind = Field(description="regular, back_pay (补发) or history (imported from the 台账)")
    status: Literal["proposed", "draft", "submitted", "approved", "paid", "rejected", "cancelled", "failed"]
    paid_on: date | None
    failure_reason: str | None = Field(default=None, description="failed: why the bank returned the line")
    repays_id: uuid.UUID | None = Field(default=None, description="A re-payment (补付): the failed line")
    payee_masked: str | None = Field(default=None, description="The payee's account on the line, masked")
    school_code: str
    area_code: str
    village_code: str | None
    stage: str | None
    grade: int | None
    categories: list[str]
    removed_reason: str | None
    reason: str | None = Field(
        default=None,
        description="Why a back-payment is proposed (household registered_poor since 2026-03-01), "
        "or where a history line came from",
    )
