import uuid
from datetime import datetime

from sqlalchemy import BigInteger, CheckConstraint, Column, Index, String, UniqueConstraint
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, updated_at_field


class Loan(SubsidyModel, table=True):
    """A student loan for higher education (国家助学贷款 / 生源地信用助学贷款): one contract, one year."""

    __tablename__ = "loan"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="amount_positive"),
        UniqueConstraint("lender", "contract_number", name="uq_loan_lender_contract"),
        Index("ix_loan_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    student_name: str = Field(max_length=50)
    household_id: uuid.UUID | None = None
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    stage: str | None = Field(default=None, max_length=20)
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    loan_kind: str = Field(max_length=20)
    year: int
    amount_fen: int = Field(sa_column=Column(BigInteger, nullable=False))
    lender: str = Field(max_length=100)
    contract_number: str = Field(max_length=60)
    repayment_status: str = Field(max_length=20)
    recorded_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
