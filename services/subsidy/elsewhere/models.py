import uuid
from datetime import date, datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, updated_at_field


class AidElsewhere(SubsidyModel, table=True):
    """Aid paid for one of our children by another county or province (区域外资助), with its follow-up letter.

    It counts as covered, and keeps the child out of a batch of the same policy kind and semester here.
    """

    __tablename__ = "aid_elsewhere"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        Index("ix_aid_elsewhere_student_kind_semester", "student_id", "policy_kind", "semester"),
        Index(
            "ix_aid_elsewhere_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}
        ),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    student_name: str = Field(max_length=50)
    household_id: uuid.UUID | None = None
    # The child's own places (where it is on the roll here): scope and figures.
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    payer_name: str = Field(max_length=100)
    payer_code: str | None = Field(default=None, max_length=12)
    policy_kind: str = Field(max_length=20)
    semester: str = Field(max_length=11)
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    evidence: str | None = Field(default=None, max_length=1000)
    letter_sent_on: date | None = None
    letter_due_on: date | None = None
    letter_answered_on: date | None = None
    letter_note: str | None = Field(default=None, max_length=500)
    recorded_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
