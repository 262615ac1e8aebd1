import uuid
from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint, text
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Absence(DropoutModel, table=True):
    """A student's absence on one school day, as the school reported it (one per student and day)."""

    __table_args__ = (
        UniqueConstraint("student_id", "date"),
        Index("ix_absence_school_code_date", "school_code", "date"),
        Index("ix_absence_date", "date"),
        Index("ix_absence_area_code_prefix", text("area_code text_pattern_ops")),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID
    date: date
    reason: str = Field(max_length=12)
    note: str | None = Field(default=None, max_length=500)
    school_code: str | None = Field(default=None, max_length=10)
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    recorded_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
