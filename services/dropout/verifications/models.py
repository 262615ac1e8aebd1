import uuid
from datetime import datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Verification(DropoutModel, table=True):
    """A school's start-of-semester check (开学核查): every enrolled compulsory-age student confirmed."""

    __table_args__ = (
        UniqueConstraint("school_code", "semester"),
        Index("ix_verification_area_code_prefix", text("area_code text_pattern_ops")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    school_code: str = Field(max_length=10)
    area_code: str = Field(max_length=12)
    semester: str = Field(max_length=12)
    status: str = Field(default="open", max_length=10)
    expected: int
    created_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class VerificationItem(DropoutModel, table=True):
    """One student to confirm: arrived, or not with a reason (unexplained opens a case)."""

    __tablename__ = "verification_item"
    __table_args__ = (UniqueConstraint("verification_id", "student_id"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    verification_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("dropout.verification.id"), nullable=False)
    )
    student_id: uuid.UUID
    name: str = Field(max_length=50)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    arrived: bool | None = None
    reason: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=500)
    case_id: uuid.UUID | None = None
    recorded_by: str | None = Field(default=None, max_length=100)
    recorded_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
