"""Events the dropout service publishes."""

from pydantic import Field

from services.contracts.events.envelope import Facts


class StudentRef(Facts):
    """Who the fact is about, as statistics counts it (the student's current school and village)."""

    student_id: str | None = Field(
        default=None, description="None for a roster child the registry does not know yet"
    )
    school_code: str | None = None
    area_code: str | None = None
    village_code: str | None = None
    stage: str | None = None
    grade: int | None = None
    birth_date: str | None = None
    compulsory: bool = Field(
        default=False, description="Primary/junior, or aged 6-15 on 1 September of the school year"
    )


class AbsenceData(StudentRef):
    absence_id: str
    date: str
    reason: str = Field(description="sick, leave or unexplained")
    previous_reason: str | None = Field(default=None, description="Set when a re-post changed the reason")


class CaseData(StudentRef):
    case_id: str
    status: str = Field(description="open, escalated, returned_pending or closed")
    level: str = Field(description="school, township or county: who leads the case")
    reason_group: str | None = None
    source: str = Field(description="absences, enrollment, verification or manual")
    outcome: str | None = None
    opened_on: str
    absent_since: str | None = None
    returned_on: str | None = None
    closed_on: str | None = None
    confirmed_on: str | None = None


class CaseActionData(CaseData):
    action_id: str
    kind: str
    occurred_at: str
    actor: str | None = None
    actor_role: str | None = None
    action_outcome: str | None = None


class CaseEscalatedData(CaseData):
    from_level: str
    trigger: str = Field(description="action, persuasion_failed or timer")
    escalated_on: str


class CaseReopenedData(CaseData):
    reopened_on: str = Field(description="The day the unexplained absences reached the threshold again")


class VerificationData(Facts):
    verification_id: str
    school_code: str
    area_code: str
    semester: str
    year: int
    expected: int = 0
    status: str


class VerificationResultData(StudentRef):
    verification_id: str
    semester: str
    year: int
    arrived: bool
    reason: str | None = None
    case_id: str | None = None


class PlacementData(StudentRef):
    placement_id: str
    year: int
    placement: str
    has_reason: bool = False


class SessionData(StudentRef):
    session_id: str
    date: str
    year: int
    duration_minutes: int = 0


class CalendarData(Facts):
    area_code: str
    year: int
    holidays: list[str] = Field(default_factory=list)
    school_days: list[str] = Field(default_factory=list)


EVENTS = [
    ("edu.dropout.absence.recorded", "An absence was recorded or its reason changed", AbsenceData),
    ("edu.dropout.case.opened", "A dropout case opened (一生一案)", CaseData),
    ("edu.dropout.case.updated", "A case's reason group or note changed", CaseData),
    ("edu.dropout.case.action_recorded", "A contact, visit, persuasion... was recorded", CaseActionData),
    ("edu.dropout.case.escalated", "A case moved up to the township or the county", CaseEscalatedData),
    ("edu.dropout.case.closed", "A case was closed (returned: pending confirmation)", CaseData),
    (
        "edu.dropout.case.returned_confirmed",
        "A returned student attended the confirmation days: the case is closed",
        CaseData,
    ),
    (
        "edu.dropout.case.reopened",
        "A returned student stopped coming again: the case is open",
        CaseReopenedData,
    ),
    ("edu.dropout.verification.created", "A start-of-semester check (开学核查) began", VerificationData),
    (
        "edu.dropout.verification.result_recorded",
        "A student's arrival (or not, with why) was recorded",
        VerificationResultData,
    ),
    ("edu.dropout.placement.recorded", "A disabled child's placement for a year", PlacementData),
    ("edu.dropout.session.recorded", "A home-teaching session (送教上门) took place", SessionData),
    ("edu.dropout.calendar.updated", "A year's holidays and make-up days of an area", CalendarData),
]
