import uuid
from datetime import date, datetime

from sqlalchemy import Column, DateTime
from sqlalchemy.dialects.postgresql import JSONB
from sqlmodel import Field

from services.registry.db import RegistryModel, created_at_field, updated_at_field

PENDING, ACCEPTED, REJECTED, CANCELLED = "pending", "accepted", "rejected", "cancelled"


class TransferRequest(RegistryModel, table=True):
    """A move of a student into a school of another county, waiting for that county to accept it.

    The student stays enrolled at the sending school until the receiving county (or school) accepts;
    both sides see the request (the wall admits either end).
    """

    __tablename__ = "transfer_request"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    student_id: uuid.UUID = Field(foreign_key="registry.student.id", index=True)
    kind: str = Field(max_length=20, description="transfer, or return into another county's school")
    effective_date: date
    status: str = Field(default=PENDING, max_length=10, index=True)
    from_school_code: str | None = Field(default=None, max_length=10)
    from_area_code: str = Field(max_length=12)
    to_school_code: str = Field(max_length=10)
    to_area_code: str = Field(max_length=12)
    details: dict = Field(default_factory=dict, sa_column=Column(JSONB, nullable=False))
    reason: str | None = Field(default=None, max_length=500)
    requested_by: str = Field(max_length=100)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_at: datetime | None = Field(default=None, sa_column=Column(DateTime(timezone=True)))
    decision_note: str | None = Field(default=None, max_length=500)
    change_id: uuid.UUID | None = Field(default=None, description="The enrollment change made on accepting")
    version: int = 1
    created_at: datetime = created_at_field()
    updated_at: datetime = updated_at_field()
