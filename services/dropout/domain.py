"""Vocabularies and rules of dropout monitoring: reasons, statuses, compulsory age, local dates."""

from datetime import date
from enum import StrEnum

from services.contracts.calendar import Semester, age_on, local_date, school_year_start
from services.contracts.calendar import today as today_local
from services.contracts.vocabulary import COMPULSORY_AGES, COMPULSORY_STAGES, CaseSource

# Dates are the deployment's (Asia/Shanghai by default): a return "on a day" is that day in Beijing.
__all__ = ["CaseSource", "age_on", "local_date", "school_year_start", "today_local"]


class AbsenceReason(StrEnum):
    sick = "sick"
    leave = "leave"
    unexplained = "unexplained"


class CaseStatus(StrEnum):
    open = "open"
    escalated = "escalated"
    returned_pending = "returned_pending"
    closed = "closed"


ACTIVE_STATUSES = (CaseStatus.open, CaseStatus.escalated, CaseStatus.returned_pending)
UNRETURNED_STATUSES = (CaseStatus.open, CaseStatus.escalated)


class Level(StrEnum):
    """Who leads the case: the school, then the township government, then the county bureau."""

    school = "school"
    township = "township"
    county = "county"


NEXT_LEVEL = {Level.school: Level.township, Level.township: Level.county}


class ReasonGroup(StrEnum):
    poverty = "poverty"
    illness = "illness"
    disability = "disability"
    weariness = "weariness"
    lack_of_care = "lack_of_care"
    distance = "distance"
    work = "work"
    other = "other"


class ActionKind(StrEnum):
    contact = "contact"
    home_visit = "home_visit"
    persuasion = "persuasion"
    escalate = "escalate"
    close = "close"


class ActionOutcome(StrEnum):
    """Outcome of a contact, home visit or persuasion; a failed persuasion escalates the case."""

    reached = "reached"
    not_reached = "not_reached"
    promised_return = "promised_return"
    failed = "failed"


class CloseOutcome(StrEnum):
    returned = "returned"
    transferred = "transferred"
    deferred_health = "deferred_health"
    deceased = "deceased"
    moved_away = "moved_away"


class VerificationReason(StrEnum):
    """Why an enrolled student has not arrived at the start of a semester; `unexplained` opens a case."""

    illness = "illness"
    leave = "leave"
    transferred = "transferred"
    out_of_county = "out_of_county"
    suspended = "suspended"
    deferred = "deferred"
    deceased = "deceased"
    unexplained = "unexplained"


class Placement(StrEnum):
    special_school = "special_school"
    regular_class = "regular_class"
    home_teaching = "home_teaching"
    deferred = "deferred"
    exempt = "exempt"


NEEDS_REASON = (Placement.deferred, Placement.exempt)


def is_compulsory(*, stage: str | None, birth_date: date | None, on: date) -> bool:
    """Compulsory (义务教育): in primary or junior, or aged 6-15 on 1 September of the school year."""
    if stage in COMPULSORY_STAGES:
        return True
    return birth_date is not None and age_on(birth_date, school_year_start(on)) in COMPULSORY_AGES


def semester_start(semester: str) -> date:
    """Return the day a semester's start check refers to: its opening day (1 March / 1 September)."""
    return Semester.parse(semester).opening_day
