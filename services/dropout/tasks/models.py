import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime, Index, text
from sqlmodel import Field

from services.dropout.db import DropoutModel, created_at_field, updated_at_field


class Task(DropoutModel, table=True):
    """Something a role has to do for a student, by a date (for the phone); at most one open per key."""

    __table_args__ = (
        Index("uq_task_open_key", "key", unique=True, postgresql_where=text("status = 'open'")),
        Index("ix_task_area_code_prefix", text("area_code text_pattern_ops")),
        Index("ix_task_village_code_prefix", text("village_code text_pattern_ops")),
        Index("ix_task_role_status_due", "role", "status", "due_on"),
        Index("ix_task_assignee_status", "assignee", "status"),
    )

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    key: str = Field(max_length=120)
    kind: str = Field(max_length=30)
    role: str = Field(max_length=20)
    # A named user who has to do it (a helper of ours, 结对帮扶): seen by that user whatever its role.
    assignee: str | None = Field(default=None, max_length=100)
    title: str = Field(max_length=200)
    student_id: uuid.UUID | None = Field(default=None, index=True)
    student_name: str | None = Field(default=None, max_length=50)
    case_id: uuid.UUID | None = Field(default=None, index=True)
    verification_id: uuid.UUID | None = None
    school_code: str | None = Field(default=None, max_length=10, index=True)
    area_code: str | None = Field(default=None, max_length=12)
    village_code: str | None = Field(default=None, max_length=12)
    due_on: date
    status: str = Field(default="open", max_length=10)
    done_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    done_by: str | None = Field(default=None, max_length=100)
    note: str | None = Field(default=None, max_length=500)
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
