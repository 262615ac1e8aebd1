import uuid
from datetime import date, datetime

from pydantic import Field

from services.kit.schemas import InputModel, OutputModel


class TransferDecision(InputModel):
    note: str | None = Field(default=None, max_length=500, description="Why (kept with the decision)")


class TransferStudent(OutputModel):
    """Who is coming: enough for the receiving side to recognise the child, never the ID number."""

    id: uuid.UUID
    name: str
    id_number_masked: str
    gender: str
    birth_date: date
    stage: str | None
    grade: int | None


class TransferPublic(OutputModel):
    id: uuid.UUID
    student_id: uuid.UUID
    student: TransferStudent | None = None
    kind: str = Field(examples=["transfer"])
    effective_date: date
    status: str = Field(examples=["pending"], description="pending, accepted, rejected, cancelled")
    from_school_code: str | None
    from_area_code: str
    to_school_code: str
    to_area_code: str
    details: dict
    reason: str | None
    requested_by: str
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str | None
    change_id: uuid.UUID | None = Field(description="The enrollment change made on accepting")
    version: int
    created_at: datetime


class TransferRequested(OutputModel):
    """The answer (202) to an enrollment change into another county's school: a request, not a change."""

    transfer_request: TransferPublic
