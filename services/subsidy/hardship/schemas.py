import uuid
from datetime import date, datetime

from pydantic import Field, StrictInt

from services.contracts.vocabulary import HardshipLevel
from services.kit.schemas import InputModel, OutputModel, Stored

EXAMPLE = {
    "student_id": "5f0c3c2e-8a51-4f4e-9d8e-2b7c1f0a9e11",
    "school_year": 2024,
    "level": "especially_hard",
    "reason": "父亲因病丧失劳动能力，家中无稳定收入",
}


class HardshipCreate(InputModel):
    student_id: uuid.UUID
    school_year: StrictInt = Field(
        ge=2000, le=2100, description="The school year by its autumn year (2024 = 2024-2025)", examples=[2024]
    )
    level: HardshipLevel = Field(description="general 一般困难, hard 困难, especially_hard 特别困难")
    reason: str = Field(min_length=1, max_length=500, description="Why (the family's situation)")


class HardshipSubmit(InputModel):
    publicity_start: date | None = Field(
        default=None, description="When the public notice (公示) began: today or up to 30 days back"
    )
    level: HardshipLevel | None = Field(
        default=None, description="Resubmitting after a rejection: a new level"
    )
    reason: str | None = Field(default=None, min_length=1, max_length=500)
    note: str | None = Field(default=None, max_length=500)
    version: int | None = None


class HardshipDecide(InputModel):
    note: str | None = Field(default=None, max_length=500)
    version: int | None = None


class HardshipReject(InputModel):
    reason: str = Field(min_length=1, max_length=500, description="Why it is sent back / revoked")
    version: int | None = None


class HardshipStep(OutputModel):
    action: str
    level: str | None = None
    actor: str
    role: str
    at: datetime
    note: str | None = None


class HardshipPublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    household_id: uuid.UUID | None
    area_code: str
    school_code: str
    village_code: str | None
    school_year: int
    level: HardshipLevel
    level_name: str = Field(description="一般困难, 困难, 特别困难")
    reason: str
    status: str = Field(
        description="proposed, submitted, approved (by the county: it counts), rejected, revoked"
    )
    awaiting: str | None = Field(description="While submitted: township or county")
    publicity_start: date | None
    publicity_end: date | None
    decided_note: str | None = Field(description="The last rejection's or revocation's reason")
    proposed_by: str
    steps: list[HardshipStep]
