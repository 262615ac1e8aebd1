import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from services.contracts.calendar import EventDate
from services.contracts.vocabulary import LegalOutcome, LegalStepKind
from services.kit.schemas import InputModel


class StepCreate(InputModel):
    kind: LegalStepKind = Field(
        description="notice (限期复学通知书, after a failed persuasion), township_referral, "
        "administrative_decision, court, concluded (needs an outcome)"
    )
    step_on: EventDate | None = Field(default=None, description="Default: today; never in the future")
    deadline: EventDate | None = Field(
        default=None,
        description="Return by this day; a notice's defaults to NOL_DROPOUT_NOTICE_DAYS (15) days on",
    )
    guardian_name: str | None = Field(default=None, min_length=1, max_length=50)
    number: str | None = Field(default=None, max_length=50, description="Document number (文号)")
    authority: str | None = Field(
        default=None, max_length=100, description="Who issues it, e.g. XX镇人民政府"
    )
    outcome: LegalOutcome | None = None
    note: str | None = Field(default=None, max_length=2000)
    evidence_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$")


class StepPublic(BaseModel):
    id: uuid.UUID
    case_id: uuid.UUID
    student_id: uuid.UUID
    kind: LegalStepKind
    kind_name: str
    step_on: date
    deadline: date | None
    guardian_name: str | None
    number: str | None
    authority: str | None
    outcome: LegalOutcome | None
    note: str | None
    evidence_id: str | None
    actor: str
    actor_role: str
    version: int
    created_at: datetime
    updated_at: datetime
