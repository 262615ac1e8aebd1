import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from services.dropout.domain import VerificationReason
from services.kit.schemas import InputModel, Stored

SEMESTER = r"^20[0-9]{2}-(spring|autumn)$"


class VerificationCreate(InputModel):
    school_code: str = Field(pattern=r"^[0-9]{10}$")
    semester: str = Field(pattern=SEMESTER, examples=["2026-autumn"])


class ResultIn(InputModel):
    student_id: uuid.UUID
    arrived: bool
    reason: VerificationReason | None = Field(
        default=None, description="Required when not arrived; `unexplained` opens a case"
    )
    note: str | None = Field(default=None, max_length=500)


class ItemPublic(BaseModel):
    student_id: uuid.UUID
    name: str
    stage: str | None
    grade: int | None
    arrived: bool | None = Field(description="null until confirmed")
    reason: str | None
    note: str | None
    case_id: uuid.UUID | None
    recorded_by: str | None
    recorded_at: datetime | None


class Summary(BaseModel):
    expected: int
    arrived: int
    not_arrived: int
    pending: int
    by_reason: dict[str, int]


class VerificationPublic(Stored):
    id: uuid.UUID
    school_code: str
    area_code: str
    semester: str
    status: str = Field(description="open until every student is confirmed, then completed")
    summary: Summary
    items: list[ItemPublic]


class VerificationListItem(Stored):
    id: uuid.UUID
    school_code: str
    area_code: str
    semester: str
    status: str
    expected: int
