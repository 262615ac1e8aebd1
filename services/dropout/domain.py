"""Vocabularies and rules of dropout monitoring: reasons, statuses, compulsory age, local dates."""

from datetime import date, datetime, timedelta, timezone
from enum import StrEnum

# Schools keep China Standard Time: a return "on a day" is that day in Beijing, whatever the server's zone.
CST = timezone(timedelta(hours=8), "CST")
COMPULSORY_STAGES = ("primary", "junior")
COMPULSORY_AGES = range(6, 16)  # 6..15 on 1 September of the school year


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


class CaseSource(StrEnum):
    absences = "absences"
    enrollment = "enrollment"
    verification = "verification"
    manual = "manual"


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


def today_local() -> date:
    """Return today's date in China Standard Time."""
    return datetime.now(CST).date()


def local_date(at: datetime) -> date:
    """Return the CST date of an aware time."""
    return at.astimezone(CST).date()


def school_year_start(on: date) -> date:
    """Return 1 September of the school year `on` falls in."""
    return date(on.year if on.month >= 9 else on.year - 1, 9, 1)


def age_on(birth_date: date, on: date) -> int:
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


def is_compulsory(*, stage: str | None, birth_date: date | None, on: date) -> bool:
    """Compulsory (义务教育): in primary or junior, or aged 6-15 on 1 September of the school year."""
    if stage in COMPULSORY_STAGES:
        return True
    return birth_date is not None and age_on(birth_date, school_year_start(on)) in COMPULSORY_AGES


def semester_start(semester: str) -> date:
    """Return the first day a semester's check refers to (1 March or 1 September)."""
    year, _, term = semester.partition("-")
    return date(int(year), 3 if term == "spring" else 9, 1)
