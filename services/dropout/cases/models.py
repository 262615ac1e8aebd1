import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, ForeignKey, Index, text
from sqlalchemy.dialects.postgresql import ARRAY, UUID
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Case(DropoutModel, table=True):
    """One child out of school, followed until return (一生一案); at most one active case per student."""

    __tablename__ = "dropout_case"
    __table_args__ = (
        Index(
            "uq_dropout_case_active_student",
            "student_id",
            unique=True,
            postgresql_where=text("status IN ('open', 'escalated', 'returned_pending')"),
        ),
        Index("ix_dropout_case_status_level_since", "status", "level_since"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(index=True)
    status: str = Field(default="open", max_length=20)
    level: str = Field(default="school", max_length=10)
    reason_group: str | None = Field(default=None, max_length=20)
    outcome: str | None = Field(default=None, max_length=20)
    source: str = Field(max_length=20)
    opened_on: date
    absent_since: date | None = None
    level_since: date
    returned_on: date | None = None
    closed_on: date | None = None
    confirmed_on: date | None = None
    note: str | None = Field(default=None, max_length=2000)
    opened_by: str = Field(max_length=100)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()


class CaseAction(DropoutModel, table=True):
    """One step taken on a case, with who, when and the outcome (system steps by `system`)."""

    __tablename__ = "case_action"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    case_id: uuid.UUID = Field(
        sa_column=Column(
            UUID(as_uuid=True), ForeignKey("dropout.dropout_case.id"), nullable=False, index=True
        )
    )
    kind: str = Field(max_length=20)
    occurred_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))
    actor: str = Field(max_length=100)
    actor_role: str = Field(max_length=20)
    note: str | None = Field(default=None, max_length=2000)
    outcome: str | None = Field(default=None, max_length=20)
    level_after: str = Field(max_length=10)
    # Evidence files (佐证材料) of the step: photos of a home visit, a scanned notice (evidence/).
    evidence: list[uuid.UUID] = Field(
        default_factory=list,
        sa_column=Column(ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
    )
    created_at: datetime = created_at_field()
