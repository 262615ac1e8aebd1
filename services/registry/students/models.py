import uuid
from datetime import date, datetime

from sqlalchemy import Column, Index, LargeBinary, String
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field


class Student(RegistryModel, table=True):
    """A student with one current enrollment. The ID number is stored encrypted."""

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=50, index=True)
    id_number_enc: bytes = Field(sa_column=Column(LargeBinary, nullable=False))
    id_number_hash: str = Field(max_length=64, unique=True)
    id_number_masked: str = Field(max_length=18)
    gender: str = Field(max_length=6)
    birth_date: date
    # 学籍号: as given when it holds no ID number, else masked here and AES-GCM encrypted beside it
    # (the default is G + the ID number).
    student_number: str = Field(max_length=40)
    student_number_enc: bytes | None = Field(default=None, sa_column=Column(LargeBinary, nullable=True))
    ethnicity: str | None = Field(default=None, max_length=20)
    household_id: uuid.UUID | None = Field(default=None, index=True)
    village_code: str | None = Field(default=None, max_length=12, index=True)
    groups: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    disability: dict | None = Field(default=None, sa_column=Column(JSONB))
    categories: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(30)), nullable=False))
    # Current enrollment (history is kept in enrollment_change).
    school_code: str | None = Field(default=None, max_length=10, index=True)
    area_code: str | None = Field(default=None, max_length=12, index=True)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    class_name: str | None = Field(default=None, max_length=50)
    boarding: bool = False
    status: str = Field(default="enrolled", max_length=20, index=True)
    warnings: list[str] = Field(default_factory=list, sa_column=Column(ARRAY(String(200)), nullable=False))
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class EnrollmentChange(RegistryModel, table=True):
    """One step of a student's enrollment history (registration included), with who and when.

    A change carries its own places (the areas of the schools it leaves and leads to, the student's
    village): the wall admits it where the student is visible or where it touched the caller's area,
    so a county keeps the history of a graduate who went on to another county's school.
    """

    __tablename__ = "enrollment_change"
    __table_args__ = (Index("ix_enrollment_change_kind_effective_date", "kind", "effective_date"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(foreign_key="registry.student.id", index=True)
    kind: str = Field(max_length=20)
    effective_date: date
    from_status: str | None = Field(default=None, max_length=20)
    to_status: str = Field(max_length=20)
    from_school_code: str | None = Field(default=None, max_length=10)
    to_school_code: str | None = Field(default=None, max_length=10)
    from_area_code: str | None = Field(default=None, max_length=12)
    to_area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    from_stage: str | None = Field(default=None, max_length=20)
    stage: str | None = Field(default=None, max_length=20)
    grade: int | None = None
    details: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    reason: str | None = Field(default=None, max_length=500)
    actor: str = Field(max_length=100)
    created_at: datetime = created_at_field()
