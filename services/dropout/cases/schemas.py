import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from services.contracts.calendar import CLIENT_TIME, ClientTimestamp, EventDate
from services.dropout.domain import ActionKind, ReasonGroup
from services.dropout.responsible.schemas import ResponsiblePublic
from services.kit.client_ids import ID_DESCRIPTION
from services.kit.schemas import InputModel, Stored


class CaseCreate(InputModel):
    student_id: uuid.UUID
    reason_group: ReasonGroup | None = None
    opened_on: EventDate | None = Field(default=None, description="Default: today")
    absent_since: EventDate | None = None
    note: str | None = Field(default=None, max_length=2000)


class CaseUpdate(InputModel):
    reason_group: ReasonGroup | None = None
    note: str | None = Field(default=None, max_length=2000)
    version: int | None = None


class ActionCreate(InputModel):
    id: uuid.UUID | None = Field(default=None, description=ID_DESCRIPTION)
    kind: ActionKind
    occurred_at: ClientTimestamp | None = Field(default=None, description="Default: now. " + CLIENT_TIME)
    note: str | None = Field(default=None, max_length=2000)
    outcome: str | None = Field(
        default=None,
        max_length=20,
        description="close: returned, transferred, deferred_health, deceased or moved_away (required); "
        "contact, home_visit, persuasion: reached, not_reached, promised_return or failed (a failed "
        "persuasion escalates the case); escalate: none",
    )
    evidence: list[uuid.UUID] = Field(
        default_factory=list,
        max_length=20,
        description="Ids of evidence files (POST /api/v1/evidence) of this step, e.g. the photos of a home "
        "visit: files the caller may see, of no other child; they then belong to the case",
    )


class ActionPublic(BaseModel):
    id: uuid.UUID
    kind: str
    occurred_at: datetime
    actor: str
    actor_role: str
    note: str | None
    outcome: str | None
    level_after: str
    evidence: list[uuid.UUID] = Field(default_factory=list, description="Evidence file ids (佐证材料)")
    created_at: datetime


class CasePublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    student_registered: bool = Field(
        description="false while the registry has no record of the child (a platform roster child): the "
        "case then carries what the roster says, and moves onto the registry's student once the child "
        "is registered with the same ID number (student_id changes; the case and its actions stay)"
    )
    id_number_masked: str | None = Field(description="The student's ID number, masked (first 6, last 4)")
    household_platform_id: str | None = Field(
        description="The household's id on the poverty platform, when the case came from its roster"
    )
    school_code: str | None
    village_code: str | None
    status: str = Field(description="open, escalated, returned_pending or closed")
    level: str = Field(description="Who leads: school, township or county")
    reason_group: str | None
    outcome: str | None
    source: str = Field(description="absences, enrollment, verification, manual or outside_roster")
    opened_on: date
    absent_since: date | None
    level_since: date = Field(description="Since when at this level (the escalation timer runs from it)")
    returned_on: date | None
    closed_on: date | None
    confirmed_on: date | None = Field(description="When a return was confirmed by attendance")
    note: str | None
    opened_by: str
    actions: list[ActionPublic]
    responsible: list[ResponsiblePublic] = Field(
        default_factory=list,
        description="The child's responsible persons on both lines (双线控辍), its own or its units'",
    )


class CheckRun(InputModel):
    today: date | None = Field(
        default=None,
        description="Run as of this date: refused unless the deployment allows it (NOL_ALLOW_CLOCK_OVERRIDE, "
        "for tests); the checks run as of today in the deployment's zone",
    )


class CheckResult(BaseModel):
    today: date
    area_code: str
    escalated: int
    confirmed: int
    reopened: int
