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
    rules: list[dict] | None = Field(
        default=None, description="Dated amount rules (from/until semester, conditions, amount, shares)"
    )
    min_hardship_level: str | None = None


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
    shares: dict[str, int] | None = Field(
        default=None,
        description="Fen per funding share (central, provincial, county), summing exactly to amount_fen",
    )
    hardship_level: str | None = Field(
        default=None, description="The child's approved hardship level (general, hard, especially_hard)"
    )
    one_off: bool = Field(default=False, description="A one-off item (once per student and stage)")
    item: str | None = Field(default=None, description="The policy rule / item code that set the amount")
    failure_reason: str | None = Field(
        default=None, description="failed: why the bank returned the line (账户已销户, 户名不符 …)"
    )
    repays_id: str | None = Field(
        default=None, description="A re-payment (补付): the failed line this line pays again"
    )
    payee_masked: str | None = Field(
        default=None, description="The payee's account as snapshotted on the line, masked (first 6, last 4)"
    )


class PayeeData(Facts):
    """Who a child's aid is paid to (the account only masked: the number never leaves the service)."""

    id: str
    student_id: str
    area_code: str
    school_code: str | None = None
    village_code: str | None = None
    relation: str = Field(description="father, mother, grandparent, guardian, self, other")
    account_kind: str = Field(description="bank_card (银行卡) or one_card (社保卡 / 惠民惠农一卡通)")
    account_masked: str = Field(description="First 6 and last 4 digits")
    bank_name: str
    actor: str | None = None


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


class HardshipData(Facts):
    """A hardship identification (家庭经济困难学生认定) of one child for one school year."""

    id: str
    student_id: str
    household_id: str | None = None
    area_code: str
    school_code: str
    school_year: int = Field(description="The school year, by its autumn year (2024 = 2024-2025)")
    level: str = Field(description="general 一般困难, hard 困难, especially_hard 特别困难")
    reason: str
    status: str = Field(
        description="proposed, submitted, approved (by the county: only then it counts), rejected, revoked"
    )
    actor: str | None = None
    village_code: str | None = None
    awaiting: str | None = Field(default=None, description="While submitted: township or county")
    note: str | None = Field(default=None, description="rejected / revoked: why")


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
    ("edu.subsidy.batch.returned", "The bank returned lines of a paid batch as failed", BatchData),
    ("edu.subsidy.batch.reconciled", "The bank's confirmation file was checked against a batch", BatchData),
    ("edu.subsidy.disbursement.proposed", "A back-payment (补发) was proposed", DisbursementData),
    ("edu.subsidy.disbursement.paid", "A line was paid (statistics count these)", DisbursementData),
    ("edu.subsidy.disbursement.cancelled", "A line was removed or cancelled", DisbursementData),
    (
        "edu.subsidy.disbursement.failed",
        "The bank returned a paid line as failed (the money did not arrive; figures stop counting it)",
        DisbursementData,
    ),
    ("edu.subsidy.payee.recorded", "A child's payee (guardian and account) was recorded", PayeeData),
    ("edu.subsidy.payee.corrected", "A child's payee was corrected (e.g. after a failed payment)", PayeeData),
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
    ("edu.subsidy.hardship.proposed", "A school proposed a child's hardship level", HardshipData),
    (
        "edu.subsidy.hardship.submitted",
        "A hardship proposal was submitted (its public notice starts)",
        HardshipData,
    ),
    (
        "edu.subsidy.hardship.endorsed",
        "The township approved a hardship proposal; the county's approval is awaited (it does not count yet)",
        HardshipData,
    ),
    (
        "edu.subsidy.hardship.approved",
        "A hardship level was approved at a level (the county's approval makes it count)",
        HardshipData,
    ),
    ("edu.subsidy.hardship.rejected", "A hardship proposal was sent back with a reason", HardshipData),
    ("edu.subsidy.hardship.revoked", "An approved hardship level was revoked", HardshipData),
]
