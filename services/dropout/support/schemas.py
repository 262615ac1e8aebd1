import re
import uuid
from datetime import date, datetime
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator

from services.contracts.calendar import CLIENT_TIME, ClientTimestamp, EventDate, event_date_problem
from services.contracts.vocabulary import SupportRecordKind
from services.kit.client_ids import ID_DESCRIPTION
from services.kit.schemas import InputModel, Stored

EvidenceId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
Phone = Annotated[str, Field(pattern=r"^\+?[0-9][0-9-]{4,19}$")]
MONTH = re.compile(r"^(20[0-9]{2})-(0[1-9]|1[0-2])$")


class HelperIn(InputModel):
    """A helper: a user of ours (by username), or a named person with a phone."""

    username: str | None = Field(default=None, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")
    name: str | None = Field(default=None, min_length=1, max_length=50)
    phone: Phone | None = None
    title: str | None = Field(default=None, max_length=50, description="e.g. 班主任, 驻村工作队员")

    @model_validator(mode="after")
    def _who(self) -> "HelperIn":
        if self.username is None and (self.name is None or self.phone is None):
            raise ValueError("a helper is a user (username) or a named person with a phone (name, phone)")
        return self


class PairingCreate(InputModel):
    student_id: uuid.UUID
    helper: HelperIn
    since: EventDate | None = Field(default=None, description="Default: today")
    until: EventDate | None = None
    plan: str | None = Field(default=None, max_length=2000, description="The support plan (帮扶措施)")


class PairingUpdate(InputModel):
    until: EventDate | None = Field(default=None, description="End the pairing on this day")
    plan: str | None = Field(default=None, max_length=2000)
    helper_phone: Phone | None = None
    version: int | None = None


class PairingPublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    school_code: str | None
    village_code: str | None
    helper_username: str | None
    helper_name: str
    helper_phone: str | None
    helper_title: str | None
    since: date
    until: date | None
    active: bool = Field(description="Whether the pairing runs today")
    plan: str | None
    created_by: str
    last_contact_at: datetime | None = Field(description="The latest record of any kind")
    last_home_visit_at: datetime | None


class RecordCreate(InputModel):
    id: uuid.UUID | None = Field(default=None, description=ID_DESCRIPTION)
    kind: SupportRecordKind = Field(description="contact (联系), home_visit (家访), tutoring, material_help")
    occurred_at: ClientTimestamp | None = Field(default=None, description="Default: now. " + CLIENT_TIME)
    note: str | None = Field(default=None, max_length=2000)
    evidence: list[EvidenceId] = Field(
        default_factory=list, max_length=20, description="Evidence file ids (佐证材料: photos, scans)"
    )


class RecordPublic(Stored):
    id: uuid.UUID
    pairing_id: uuid.UUID
    student_id: uuid.UUID
    kind: str
    occurred_at: datetime
    note: str | None
    evidence: list[str]
    actor: str
    actor_role: str


class CampaignCreate(InputModel):
    area_code: str = Field(pattern=r"^[0-9]{6}([0-9]{3}([0-9]{3})?)?$")
    month: str = Field(description="YYYY-MM: the visit month (集中走访月)", examples=["2026-12"])
    name: str | None = Field(default=None, max_length=100)

    @field_validator("month")
    @classmethod
    def _month(cls, value: str) -> str:
        m = MONTH.match(value)
        if not m:
            raise ValueError("month must be YYYY-MM")
        if (problem := event_date_problem(date(int(m.group(1)), int(m.group(2)), 1))) is not None:
            raise ValueError(problem)
        return value


class Coverage(BaseModel):
    children: int = Field(description="Children of poor households in the area who should have a helper")
    visited: int = Field(description="Those with a home visit (helper's or on a case) during the month")
    rate: float | None = Field(description="visited ÷ children (null when there are none)")


class CampaignPublic(Stored):
    id: uuid.UUID
    area_code: str
    month: str
    name: str | None
    created_by: str
    coverage: Coverage | None = Field(default=None, description="On the single read only")
    as_of: dict[str, int] | None = None


class SupportRate(BaseModel):
    area_code: str
    on: date = Field(description="The day the figure is for (today in the deployment's zone)")
    children: int = Field(
        description="Children of poor households (aid categories non-empty), of compulsory age or enrolled"
    )
    with_helper: int = Field(description="Those with a pairing active today")
    without_helper: int
    rate: float | None = Field(description="受扶持率: with_helper ÷ children (null when there are none)")
    as_of: dict[str, int]
