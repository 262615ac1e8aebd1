"""Dropout events: past-tense facts written to the outbox with the change."""

from typing import Any

from pydantic import BaseModel, Field
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.db import outbox
from services.kit.catalog import EventSpec
from services.kit.events import Emitter

SOURCE = "dropout"


_emitter = Emitter(outbox, SOURCE)
event = _emitter.event


async def emit_all(session: AsyncSession, events: list[dict[str, Any]]) -> None:
    """Write events to the outbox in the current transaction, in one statement."""
    if not events:
        return
    rows = [{"id": e["id"], "type": e["type"], "subject": e["subject"], "payload": e} for e in events]
    await session.execute(outbox.insert(), rows)


async def emit(session: AsyncSession, event_type: str, **kw: Any) -> None:
    """Record one dropout event in the outbox, in the current transaction."""
    await emit_all(session, [event(event_type, **kw)])


class StudentRef(BaseModel):
    """Who the fact is about, as statistics counts it (the student's current school and village)."""

    student_id: str
    school_code: str | None
    area_code: str | None
    village_code: str | None
    stage: str | None
    grade: int | None
    birth_date: str | None
    compulsory: bool = Field(description="Primary/junior, or aged 6-15 on 1 September of the school year")


class AbsenceData(StudentRef):
    absence_id: str
    date: str
    reason: str = Field(description="sick, leave or unexplained")
    previous_reason: str | None = Field(description="Set when a re-post changed the reason")


class CaseData(StudentRef):
    case_id: str
    status: str = Field(description="open, escalated, returned_pending or closed")
    level: str = Field(description="school, township or county: who leads the case")
    reason_group: str | None
    source: str = Field(description="absences, enrollment, verification or manual")
    outcome: str | None
    opened_on: str
    absent_since: str | None
    returned_on: str | None
    closed_on: str | None
    confirmed_on: str | None


class CaseActionData(CaseData):
    action_id: str
    kind: str
    occurred_at: str
    actor: str
    actor_role: str
    action_outcome: str | None


class CaseEscalatedData(CaseData):
    from_level: str
    trigger: str = Field(description="action, persuasion_failed or timer")
    escalated_on: str


class CaseReopenedData(CaseData):
    reopened_on: str = Field(description="The day the unexplained absences reached the threshold again")


class VerificationData(BaseModel):
    verification_id: str
    school_code: str
    area_code: str
    semester: str
    year: int
    expected: int
    status: str


class VerificationResultData(StudentRef):
    verification_id: str
    semester: str
    year: int
    arrived: bool
    reason: str | None
    case_id: str | None


class PlacementData(StudentRef):
    placement_id: str
    year: int
    placement: str
    has_reason: bool


class SessionData(StudentRef):
    session_id: str
    date: str
    year: int
    duration_minutes: int


class CalendarData(BaseModel):
    area_code: str
    year: int
    holidays: list[str]
    school_days: list[str]


CATALOG = [
    EventSpec("edu.dropout.absence.recorded", "An absence was recorded or its reason changed", AbsenceData),
    EventSpec("edu.dropout.case.opened", "A dropout case opened (一生一案)", CaseData),
    EventSpec("edu.dropout.case.updated", "A case's reason group or note changed", CaseData),
    EventSpec(
        "edu.dropout.case.action_recorded", "A contact, visit, persuasion... was recorded", CaseActionData
    ),
    EventSpec(
        "edu.dropout.case.escalated", "A case moved up to the township or the county", CaseEscalatedData
    ),
    EventSpec("edu.dropout.case.closed", "A case was closed (returned: pending confirmation)", CaseData),
    EventSpec(
        "edu.dropout.case.returned_confirmed",
        "A returned student attended the confirmation days: the case is closed",
        CaseData,
    ),
    EventSpec(
        "edu.dropout.case.reopened",
        "A returned student stopped coming again: the case is open",
        CaseReopenedData,
    ),
    EventSpec(
        "edu.dropout.verification.created", "A start-of-semester check (开学核查) began", VerificationData
    ),
    EventSpec(
        "edu.dropout.verification.result_recorded",
        "A student's arrival (or not, with why) was recorded",
        VerificationResultData,
    ),
    EventSpec("edu.dropout.placement.recorded", "A disabled child's placement for a year", PlacementData),
    EventSpec("edu.dropout.session.recorded", "A home-teaching session (送教上门) took place", SessionData),
    EventSpec("edu.dropout.calendar.updated", "A year's holidays and make-up days of an area", CalendarData),
]
