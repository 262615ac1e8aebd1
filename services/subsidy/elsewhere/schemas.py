import uuid
from datetime import date

from pydantic import Field, StrictInt, model_validator

from services.contracts.calendar import EventDate
from services.contracts.vocabulary import LetterStatus, PolicyKind
from services.kit.schemas import InputModel, OutputModel, Stored
from services.subsidy.domain import SEMESTER_PATTERN


class Payer(InputModel):
    name: str = Field(min_length=2, max_length=100, examples=["贵州省毕节市七星关区"])
    code: str | None = Field(default=None, pattern=r"^[0-9]{2,12}$", examples=["520502"])


class Letter(InputModel):
    """The follow-up letter (公函) asking the paying county to confirm: sent, due, answered."""

    sent_on: EventDate | None = Field(default=None, examples=["2026-10-08"])
    due_on: EventDate | None = Field(default=None, description="Answer expected by; past it: overdue")
    answered_on: EventDate | None = None
    note: str | None = Field(default=None, max_length=500, examples=["对方复函确认已发放"])

    @model_validator(mode="after")
    def _order(self):
        if self.sent_on is None and (self.due_on or self.answered_on):
            raise ValueError("letter.sent_on is required with due_on or answered_on")
        for later in ("due_on", "answered_on"):
            if self.sent_on and getattr(self, later) and getattr(self, later) < self.sent_on:
                raise ValueError(f"letter.{later} must not be before letter.sent_on")
        return self


class AidElsewhereCreate(InputModel):
    student_id: uuid.UUID
    payer: Payer
    policy_kind: PolicyKind
    semester: str = Field(pattern=SEMESTER_PATTERN, examples=["2026-autumn"])
    amount_fen: StrictInt = Field(gt=0, le=10**9, description="In fen (integer)")
    evidence: str | None = Field(default=None, max_length=1000, examples=["七星关区资助中心发放名册复印件"])
    letter: Letter | None = None


class AidElsewhereUpdate(InputModel):
    letter: Letter | None = None
    evidence: str | None = Field(default=None, max_length=1000)
    version: int | None = None


class LetterPublic(OutputModel):
    status: LetterStatus
    status_text: str
    sent_on: date | None
    due_on: date | None
    answered_on: date | None
    note: str | None


class AidElsewherePublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    school_code: str | None
    area_code: str
    payer: dict = Field(examples=[{"name": "贵州省毕节市七星关区", "code": "520502"}])
    policy_kind: PolicyKind
    semester: str
    amount_fen: int
    evidence: str | None
    letter: LetterPublic
    recorded_by: str


EXAMPLE = {
    "student_id": "0b9c3c1e-8a43-4bde-9d7e-0d6c1f1b2a10",
    "payer": {"name": "贵州省毕节市七星关区", "code": "520502"},
    "policy_kind": "living_allowance",
    "semester": "2026-autumn",
    "amount_fen": 62500,
    "evidence": "七星关区资助中心发放名册复印件",
    "letter": {"sent_on": "2026-10-08", "due_on": "2026-11-08"},
}
