import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from services.contracts.calendar import EventDate
from services.dropout.domain import AbsenceReason
from services.kit.client_ids import ID_DESCRIPTION
from services.kit.schemas import InputModel, Stored

MAX_ITEMS = 2000


class AbsenceIn(InputModel):
    id: uuid.UUID | None = Field(default=None, description=ID_DESCRIPTION)
    student_id: uuid.UUID
    date: EventDate
    reason: AbsenceReason = Field(description="sick (病假), leave (事假) or unexplained (无故缺勤)")
    note: str | None = Field(default=None, max_length=500)


class AbsenceResult(BaseModel):
    index: int
    student_id: uuid.UUID
    date: date
    result: str = Field(description="created, updated (reason changed), unchanged, or error")
    absence_id: uuid.UUID | None = None
    case_id: uuid.UUID | None = Field(default=None, description="A case this post opened for the student")
    error: dict | None = Field(default=None, description="`code` and `msg` when result is error")


class AbsencePostResult(BaseModel):
    items: list[AbsenceResult]
    created: int
    updated: int
    unchanged: int
    failed: int
    cases_opened: int


class AbsencePublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    date: date
    reason: str
    note: str | None
    school_code: str | None
    recorded_by: str
    updated_at: datetime
