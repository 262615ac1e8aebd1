"""Events the subsidy service publishes."""

from pydantic import Field

from services.contracts.events.envelope import Facts


class PolicyData(Facts):
    id: str
    code: str
    revision: int
    name: str
    kind: str = Field(description="scholarship, loan, grant, living_allowance, waiver (奖贷助补免)")
    stages: list[str] = Field(default_factory=list)
    categories: list[str] = Field(
        default_factory=list, description="Eligible aid categories; empty = every student of the stages"
    )
    boarding_only: bool = False
    non_boarders_only: bool = False
    amount_fen: int = Field(description="Per semester, in fen")
    years: list[int] = Field(default_factory=list)
    area_code: str


class BatchData(Facts):
    id: str
    kind: str = Field(description="regular or back_pay (补发)")
    school_code: str
    area_code: str
    semester: str
    policy_code: str
    policy_kind: str
    status: str
    awaiting: str | None = Field(
        default=None, description="Whose approval is next while submitted: township or county"
    )
    level: str | None = Field(default=None, description="approved/rejected: at which level")
    lines: int = 0
    total_fen: int = 0
    actor: str | None = None
    note: str | None = None
    publicity_start: str | None = None
    publicity_end: str | None = None
    paid_on: str | None = None
    reference: str | None = None
    as_of: dict[str, int] | None = Field(
        default=None, description="Stream positions of the projections the batch was built from"
    )


class DisbursementData(Facts):
    """One line, with everything figures need (stage, categories, household, areas)."""

    id: str
    student_id: str
    household_id: str | None = None
    policy_code: str
    policy_kind: str
    semester: str
    amount_fen: int
    batch_id: str | None = None
    kind: str = "regular"
    status: str
    school_code: str
    area_code: str
    village_code: str | None = None
    stage: str | None = None
    grade: int | None = None
    boarding: bool = False
    categories: list[str] = Field(default_factory=list)
    paid_on: str | None = None
    reason: str | None = Field(default=None, description="cancelled: why")


class ObjectionData(Facts):
    id: str
    batch_id: str
    line_id: str
    student_id: str
    status: str
    reason: str
    resolution: str | None = None
    actor: str | None = None


class NoticeAckData(Facts):
    student_id: str
    semester: str
    acknowledged_at: str
    acknowledged_by: str | None = None
    role: str | None = None


class AidElsewhereData(Facts):
    """Aid paid for one of our children by another county or province (区域外): the child is covered."""

    id: str
    student_id: str
    household_id: str | None = None
    area_code: str = Field(description="Where the child is on the roll here")
    school_code: str | None = None
    village_code: str | None = None
    stage: str | None = None
    payer_name: str = Field(description="The county or province that paid")
    payer_code: str | None = None
    policy_kind: str
    semester: str
    amount_fen: int
    letter_status: str = Field(default="not_sent", description="not_sent, sent, answered, overdue (公函)")
    letter_sent_on: str | None = None
    letter_due_on: str | None = None
    letter_answered_on: str | None = None


class LoanData(Facts):
    """A student loan for higher education (国家助学贷款 / 生源地信用助学贷款)."""

    id: str
    student_id: str
    household_id: str | None = None
    area_code: str
    school_code: str | None = None
    village_code: str | None = None
    stage: str | None = None
    categories: list[str] = Field(default_factory=list)
    loan_kind: str = Field(description="national (国家助学贷款) or origin_credit (生源地信用助学贷款)")
    year: int
    amount_fen: int
    lender: str
    contract_number: str | None = None
    repayment_status: str = Field(description="in_school, grace, repaying, repaid, overdue")


EVENTS = [
    ("edu.subsidy.policy.created", "A subsidy policy was created", PolicyData),
    ("edu.subsidy.policy.updated", "A policy not yet used was changed in place", PolicyData),
    ("edu.subsidy.policy.versioned", "A policy in use got a new revision", PolicyData),
    ("edu.subsidy.batch.generated", "A batch was generated (draft)", BatchData),
    ("edu.subsidy.batch.regenerated", "A draft or rejected batch was generated again", BatchData),
    ("edu.subsidy.batch.submitted", "A school submitted a batch (public notice starts)", BatchData),
    ("edu.subsidy.batch.approved", "A batch was approved at a level (township, county)", BatchData),
    ("edu.subsidy.batch.rejected", "A batch was sent back with a reason", BatchData),
    ("edu.subsidy.batch.paid", "A batch was paid", BatchData),
    ("edu.subsidy.batch.line_removed", "A line was removed after an upheld objection", BatchData),
    ("edu.subsidy.batch.cancelled", "A batch was cancelled before approval", BatchData),
    ("edu.subsidy.disbursement.proposed", "A back-payment (补发) was proposed", DisbursementData),
    ("edu.subsidy.disbursement.paid", "A line was paid (statistics count these)", DisbursementData),
    ("edu.subsidy.disbursement.cancelled", "A line was removed or cancelled", DisbursementData),
    ("edu.subsidy.objection.raised", "An objection was raised during public notice", ObjectionData),
    ("edu.subsidy.objection.resolved", "An objection was upheld or dismissed", ObjectionData),
    ("edu.subsidy.notice.acknowledged", "A parent acknowledged a notice (告知书)", NoticeAckData),
    (
        "edu.subsidy.aid_elsewhere.recorded",
        "Aid paid for our child by another county or province was recorded (the child is covered)",
        AidElsewhereData,
    ),
    (
        "edu.subsidy.aid_elsewhere.updated",
        "A record of aid elsewhere changed (its follow-up letter, evidence)",
        AidElsewhereData,
    ),
    ("edu.subsidy.loan.recorded", "A student loan was recorded", LoanData),
    ("edu.subsidy.loan.updated", "A student loan's repayment status changed", LoanData),
]
