import uuid
from datetime import date, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    text,
)
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, now, updated_at_field


class Batch(SubsidyModel, table=True):
    """A disbursement batch: one school, semester and policy (regular at most once; back-pay any number)."""

    __tablename__ = "batch"
    __table_args__ = (
        CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'paid', 'rejected', 'cancelled')", name="status"
        ),
        CheckConstraint("kind IN ('regular', 'back_pay', 'repay')", name="kind"),
        # At most one live regular batch per school, semester and policy (safe under concurrent requests).
        Index(
            "uq_batch_regular_school_semester_policy",
            "school_code",
            "semester",
            "policy_code",
            unique=True,
            postgresql_where=text("kind = 'regular' AND status <> 'cancelled'"),
        ),
        Index("ix_batch_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    kind: str = Field(default="regular", max_length=10)
    school_code: str = Field(max_length=10, index=True)
    area_code: str = Field(max_length=12)
    semester: str = Field(max_length=11, index=True)
    policy_code: str = Field(max_length=40)
    policy_id: uuid.UUID = Field(foreign_key="subsidy.policy.id")
    status: str = Field(default="draft", max_length=12, index=True)
    awaiting: str | None = Field(default=None, max_length=10)
    publicity_start: date | None = None
    publicity_end: date | None = Field(default=None, description="First day the county may approve")
    paid_on: date | None = None
    reference: str | None = Field(default=None, max_length=100)
    reject_reason: str | None = Field(default=None, max_length=500)
    line_count: int = 0
    total_fen: int = Field(default=0, sa_column=Column(BigInteger, nullable=False, server_default="0"))
    excluded_count: int = 0
    generated_at: datetime = Field(
        default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    generated_by: str = Field(max_length=100)
    # The producers' outbox positions the projection reflected when the lines were generated.
    as_of: dict | None = Field(default=None, sa_column=Column(JSONB))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class BatchStep(SubsidyModel, table=True):
    """One step of a batch's workflow: who did what, when, and why."""

    __tablename__ = "batch_step"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    batch_id: uuid.UUID = Field(foreign_key="subsidy.batch.id", index=True)
    action: str = Field(max_length=20)
    level: str | None = Field(default=None, max_length=10)
    actor: str = Field(max_length=100)
    role: str = Field(max_length=20)
    at: datetime = Field(default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False))
    note: str | None = Field(default=None, max_length=500)


class Disbursement(SubsidyModel, table=True):
    """One line: a student, a policy, a semester, an amount; its status follows its batch."""

    __tablename__ = "disbursement"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        CheckConstraint(
            "status IN ('proposed', 'draft', 'submitted', 'approved', 'paid', 'rejected', 'cancelled', "
            "'failed')",
            name="status",
        ),
        # A failed line was paid (the bank was instructed on paid_on) and came back, with the bank's reason.
        CheckConstraint("(status IN ('paid', 'failed')) = (paid_on IS NOT NULL)", name="paid_on_iff_paid"),
        CheckConstraint("(status = 'failed') = (failure_reason IS NOT NULL)", name="failed_has_reason"),
        # A proposal has no batch; every other line has one (or is a cancelled proposal, or history
        # imported from the county's ledger).
        CheckConstraint(
            "CASE WHEN status = 'proposed' THEN batch_id IS NULL "
            "ELSE batch_id IS NOT NULL OR status = 'cancelled' OR kind = 'history' END",
            name="batch_unless_proposed",
        ),
        # Nobody paid twice: one live line per student, policy and semester, across every school and county.
        # A re-payment (补付) stands beside the failed line it pays again (which keeps the place), and
        # each failed line is re-paid by at most one live line.
        Index(
            "uq_disbursement_live_student_policy_semester",
            "student_id",
            "policy_code",
            "semester",
            unique=True,
            postgresql_where=text("status <> 'cancelled' AND repays_id IS NULL"),
        ),
        Index(
            "uq_disbursement_live_repays_id",
            "repays_id",
            unique=True,
            postgresql_where=text("status <> 'cancelled' AND repays_id IS NOT NULL"),
        ),
        Index(
            "ix_disbursement_failed",
            "school_code",
            "policy_code",
            "semester",
            postgresql_where=text("status = 'failed'"),
        ),
        Index(
            "ix_disbursement_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}
        ),
        Index(
            "ix_disbursement_village_code_prefix",
            "village_code",
            postgresql_ops={"village_code": "text_pattern_ops"},
        ),
        Index(
            "ix_disbursement_proposed",
            "school_code",
            "policy_code",
            "semester",
            postgresql_where=text("status = 'proposed'"),
        ),
    )

    id: uuid.UUID = Field(
        default_factory=uuid.uuid4,
        sa_column=Column(UUID(as_uuid=True), primary_key=True, server_default=text("gen_random_uuid()")),
    )
    batch_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("subsidy.batch.id"), index=True)
    )
    kind: str = Field(default="regular", max_length=10)
    student_id: uuid.UUID = Field(index=True)
    student_name: str = Field(max_length=50)
    id_number_masked: str = Field(default="", max_length=18)
    household_id: uuid.UUID | None = None
    school_code: str = Field(max_length=10, index=True)
    area_code: str = Field(max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    boarding: bool = False
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    policy_code: str = Field(max_length=40)
    policy_id: uuid.UUID = Field(foreign_key="subsidy.policy.id")
    policy_kind: str = Field(max_length=20)
    semester: str = Field(max_length=11, index=True)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    # The policy rule (item) that set the amount, whether it is a one-off item, the funding shares in
    # fen (central / provincial / county, summing exactly to amount_fen) and the child's approved
    # hardship level in the semester's school year (policies.rules; null on lines made before them).
    item: str | None = Field(default=None, max_length=40)
    one_off: bool = Field(default=False, sa_column=Column(Boolean, nullable=False, server_default="false"))
    shares: dict | None = Field(default=None, sa_column=Column(JSONB))
    hardship_level: str | None = Field(default=None, max_length=20)
    status: str = Field(max_length=12)
    removed_reason: str | None = Field(default=None, max_length=500)
    # Why a line exists outside a batch's own generation: a back-payment's cause, a ledger row's source.
    reason: str | None = Field(default=None, max_length=500)
    paid_on: date | None = None
    # The bank returned the line (支付失败): why, and when it was recorded.
    failure_reason: str | None = Field(default=None, max_length=500)
    failed_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    # A re-payment (补付): the failed line this line pays again.
    repays_id: uuid.UUID | None = Field(
        default=None, sa_column=Column(UUID(as_uuid=True), ForeignKey("subsidy.disbursement.id"))
    )
    # The payee as it was when the line was generated or submitted (payments.payees): a later
    # correction does not rewrite what was sent to the bank. The account is kept encrypted.
    payee_id: uuid.UUID | None = None
    payee_version: int | None = None
    payee_name: str | None = Field(default=None, max_length=50)
    payee_masked: str | None = Field(default=None, max_length=32)
    payee_account_encrypted: bytes | None = Field(default=None, sa_column=Column(LargeBinary))
    payee_account_hash: str | None = Field(default=None, max_length=64)
    payee_bank_name: str | None = Field(default=None, max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class Exclusion(SubsidyModel, table=True):
    """A student of the school left out of a batch, with why (不漏: every one is accounted for)."""

    __tablename__ = "exclusion"

    batch_id: uuid.UUID = Field(foreign_key="subsidy.batch.id", primary_key=True)
    student_id: uuid.UUID = Field(primary_key=True)
    student_name: str = Field(max_length=50)
    reason: str = Field(max_length=20)
    reason_text: str = Field(max_length=500)
    other_batch_id: uuid.UUID | None = None
    other_school_code: str | None = Field(default=None, max_length=10)
    other_status: str | None = Field(default=None, max_length=12)


class Objection(SubsidyModel, table=True):
    """An objection raised against a line during public notice (公示), and how it was resolved."""

    __tablename__ = "objection"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    batch_id: uuid.UUID = Field(foreign_key="subsidy.batch.id", index=True)
    line_id: uuid.UUID
    student_id: uuid.UUID
    reason: str = Field(max_length=500)
    status: str = Field(default="open", max_length=10, index=True)
    raised_by: str = Field(max_length=100)
    raised_role: str = Field(max_length=20)
    raised_at: datetime = Field(
        default_factory=now, sa_column=Column(DateTime(timezone=True), nullable=False)
    )
    resolution: str | None = Field(default=None, max_length=500)
    resolved_by: str | None = Field(default=None, max_length=100)
    resolved_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    version: int = 1
