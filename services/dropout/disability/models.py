import uuid
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey, UniqueConstraint
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Placement(DropoutModel, table=True):
    """Where a disabled child is educated in a (calendar) year: one placement per child and year."""

    __table_args__ = (UniqueConstraint("student_id", "year"),)

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    year: int
    placement: str = Field(max_length=20)
    reason: str | None = Field(default=None, max_length=500)
    recorded_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class HomeTeachingSession(DropoutModel, table=True):
    """One home-teaching visit (送教上门) to a child placed in home teaching."""

    __tablename__ = "home_teaching_session"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    placement_id: uuid.UUID = Field(
        sa_column=Column(UUID(as_uuid=True), ForeignKey("dropout.placement.id"), nullable=False, index=True)
    )
    date: date
    teacher: str = Field(max_length=50)
    duration_minutes: int
    content: str = Field(max_length=2000)
    recorded_by: str = Field(max_length=100)
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
