import uuid
from datetime import date, datetime

from sqlalchemy import Index, UniqueConstraint
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class ResponsiblePerson(DropoutModel, table=True):
    """A child's own responsible person for one role (双线控辍), overriding its unit's default.

    Carries its student's codes (kept by triggers) for the wall.
    """

    __tablename__ = "responsible_person"
    __table_args__ = (UniqueConstraint("student_id", "role"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID
    role: str = Field(max_length=20)
    name: str = Field(max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    username: str | None = Field(default=None, max_length=100)
    set_by: str = Field(max_length=100)
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ResponsibleDefault(DropoutModel, table=True):
    """The responsible person of a unit (a school, a village, a township) for one role: every child of
    the unit has them unless the child has its own. Reference data (names of office holders)."""

    __tablename__ = "responsible_default"
    __table_args__ = (UniqueConstraint("unit_code", "role"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    unit_code: str = Field(max_length=12, description="A school code (10 digits) or an area code")
    role: str = Field(max_length=20)
    name: str = Field(max_length=50)
    phone: str | None = Field(default=None, max_length=20)
    username: str | None = Field(default=None, max_length=100)
    set_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class ResponsibilityLetter(DropoutModel, table=True):
    """A signed responsibility letter (责任书) for a child and a role: who signed, when, which file."""

    __tablename__ = "responsibility_letter"
    __table_args__ = (Index("ix_responsibility_letter_student", "student_id", "role"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID
    role: str = Field(max_length=20)
    signer_name: str = Field(max_length=50)
    signed_on: date
    evidence_id: str | None = Field(default=None, max_length=64)
    recorded_by: str = Field(max_length=100)
    area_code: str | None = Field(default=None, max_length=12)
    school_code: str | None = Field(default=None, max_length=10)
    village_code: str | None = Field(default=None, max_length=12)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
