import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, Column, Index, LargeBinary
from sqlmodel import Field

from services.subsidy.db import SubsidyModel, created_at_field, updated_at_field


class Payee(SubsidyModel, table=True):
    """Who a child's aid is paid to: a guardian and a bank or 一卡通 account (encrypted at rest)."""

    __tablename__ = "payee"
    __table_args__ = (
        CheckConstraint("account_kind IN ('bank_card', 'one_card')", name="account_kind"),
        Index("ix_payee_area_code_prefix", "area_code", postgresql_ops={"area_code": "text_pattern_ops"}),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(unique=True)
    student_name: str = Field(max_length=50)
    area_code: str = Field(max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    guardian_name: str = Field(max_length=50)
    relation: str = Field(max_length=20)
    account_kind: str = Field(max_length=20)
    # AES-GCM (kit.crypto, context b"payee_account"), a keyed hash to match bank files, the 6+4 mask.
    account_encrypted: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    account_hash: str = Field(max_length=64, index=True)
    account_masked: str = Field(max_length=32)
    bank_name: str = Field(max_length=100)
    recorded_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
