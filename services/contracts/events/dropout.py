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
    source: str = Field(description="absences, enrollment, verification, manual or outside_roster")
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
    evidence: list[str] = Field(default_factory=list, description="Evidence file ids (佐证材料) of the step")


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


# --- 帮扶 and the responsibility system (issue 15) ---------------------------------------------


class PairingData(StudentRef):
    pairing_id: str
    helper_username: str | None = Field(default=None, description="The helper's login, when a user of ours")
    helper_name: str
    since: str
    until: str | None = None
    active: bool = True


class SupportRecordData(StudentRef):
    pairing_id: str
    record_id: str
    kind: str = Field(description="contact, home_visit, tutoring or material_help")
    occurred_at: str
    actor: str | None = None
    evidence: list[str] = Field(default_factory=list, description="Evidence file ids (佐证材料)")


class CampaignData(Facts):
    campaign_id: str
    area_code: str
    month: str = Field(description="YYYY-MM: the visit month (集中走访月)")
    name: str | None = None


class ResponsibleData(StudentRef):
    role: str = Field(description="head_teacher, principal, village_head or township_head")
    line: str = Field(description="education or government")
    name: str | None = None
    letter_id: str | None = Field(default=None, description="Set when a responsibility letter was recorded")
    signed_on: str | None = None


class LegalStepData(CaseData):
    step_id: str
    step_kind: str = Field(description="notice, township_referral, administrative_decision, court, concluded")
    step_on: str
    deadline: str | None = None
    step_outcome: str | None = None


EVENTS += [
    ("edu.dropout.pairing.created", "A child got a helper (结对帮扶)", PairingData),
    ("edu.dropout.pairing.updated", "A pairing's plan or end date changed", PairingData),
    ("edu.dropout.support.recorded", "A helper's contact, visit, tutoring or help", SupportRecordData),
    ("edu.dropout.campaign.created", "A visit month (集中走访月) was set for an area", CampaignData),
    ("edu.dropout.responsible.updated", "A child's responsible person or letter (责任书)", ResponsibleData),
    ("edu.dropout.case.legal_step_recorded", "A legal step on a case (限期复学通知书 ...)", LegalStepData),
]


# --- Outside rosters (联控联保) and evidence files (佐证材料), issue 15 --------------------------


class OutsideRosterData(Facts):
    roster_id: str
    area_code: str
    source: str = Field(description="public_security or disabled_federation")
    as_of: str = Field(description="The date the roster describes")
    roster_version: int = Field(description="1, 2, ... per area and source; a new version supersedes")
    total: int = 0
    compared: int = Field(default=0, description="Valid rows of school age that were compared")
    no_roll: int = 0
    not_on_roster: int = 0
    disabled_unplaced: int = 0
    cases_opened: int = 0


class EvidenceData(Facts):
    evidence_id: str
    kind: str = Field(description="photo, scan, letter, notice, record or other")
    content_type: str
    size_bytes: int
    sha256: str
    area_code: str | None = None
    student_id: str | None = None
    case_id: str | None = None
    has_gps: bool = False


EVENTS += [
    (
        "edu.dropout.outside_roster.compared",
        "An outside roster (公安/残联) was compared with the rolls (联控联保)",
        OutsideRosterData,
    ),
    ("edu.dropout.evidence.recorded", "An evidence file (佐证材料) was uploaded", EvidenceData),
    ("edu.dropout.evidence.attached", "An evidence file was attached to a case action", EvidenceData),
]
