import uuid
from datetime import date, datetime

from sqlalchemy import Column, ForeignKey
from sqlalchemy.dialects.postgresql import UUID
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class LegalStep(DropoutModel, table=True):
    """A legal step on a case (依法控辍): the guardian's notice with its deadline, then what followed."""

    __tablename__ = "legal_step"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("dropout.dropout_case.id"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=30)
    step_on: date
    deadline: date | None = None
    number: str | None = Field(default=None, max_length=50, description="The document number (文号)")
    guardian_name: str | None = Field(default=None, max_length=50)
    authority: str | None = Field(default=None, max_length=100)
    outcome: str | None = Field(default=None, max_length=20)
    note: str | None = Field(default=None, max_length=2000)
    evidence_id: str | None = Field(default=None, max_length=64)
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=20)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
