import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, String, text
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from services.dropout.db import DropoutModel


class Student(DropoutModel, table=True):
    """The dropout service's copy of a registry student (from events; newer versions win)."""

    __table_args__ = (
        Index("ix_student_area_code_prefix", text("area_code text_pattern_ops")),
        Index("ix_student_village_code_prefix", text("village_code text_pattern_ops")),
        Index("ix_student_id_number_hash", "id_number_hash"),
    )

    id: uuid.UUID = Field(primary_key=True)
    name: str = Field(max_length=50)
    school_code: str | None = Field(default=None, max_length=10, index=True)
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    household_id: uuid.UUID | None = None
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    status: str = Field(max_length=20)  # the registry's, or NOT_REGISTERED (students/unregistered.py)
    birth_date: date | None = None
    groups: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    disability: dict | None = Field(default=None, sa_column=Column(JSONB(none_as_null=True)))
    # The registry's keyed hash and mask of the ID number (never the number): a roster child the registry
    # registers later is recognised by the hash (cases/linking.py).
    id_number_hash: str | None = Field(default=None, max_length=64)
    id_number_masked: str | None = Field(default=None, max_length=18)
    household_platform_id: str | None = Field(default=None, max_length=40)  # as the roster gave it
    version: int
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
