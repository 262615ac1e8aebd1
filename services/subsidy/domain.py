"""Subsidy vocabularies: policy kinds, statuses, semesters and deadlines, exclusion reasons."""

from datetime import date, timedelta
from enum import StrEnum

from services.contracts import calendar
from services.contracts.calendar import SEMESTER_PATTERN, BadSemester, Semester
from services.contracts.vocabulary import (
    AT_SCHOOL,
    EXCLUSION_REASON_NAMES,
    POLICY_KIND_NAMES,
    Category,
    PolicyKind,
    Stage,
)
from services.kit.errors import Invalid
from services.kit.settings import Settings, get_settings

# The shared words (stages, aid categories, policy kinds) are the contracts': one language everywhere.
__all__ = ["AT_SCHOOL", "SEMESTER_PATTERN", "Category", "PolicyKind", "Stage"]


KIND_LABELS = POLICY_KIND_NAMES


class BatchKind(StrEnum):
    regular = "regular"
    back_pay = "back_pay"
    repay = "repay"  # 补付: failed lines paid again after their payee was corrected


class BatchStatus(StrEnum):
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    paid = "paid"
    rejected = "rejected"
    cancelled = "cancelled"


class Level(StrEnum):
    """Who approves next while a batch is submitted."""

    township = "township"
    county = "county"


# A line's status follows its batch; `proposed` is a back-pay line not yet in a batch.
LINE_STATUSES = ("proposed", *(s.value for s in BatchStatus))
REASONS = {str(k): v for k, v in EXCLUSION_REASON_NAMES.items()}
DEFAULT_DEADLINES = {"spring": "06-15", "autumn": "11-30"}


def parse_semester(semester: str, loc: str = "semester") -> tuple[int, str]:
    """Return (year, term) of `YYYY-spring` / `YYYY-autumn`, or raise Invalid naming the field."""
    try:
        s = Semester.parse(semester)
    except BadSemester as exc:
        raise Invalid([loc], str(exc)) from None
    return s.year, s.term


def semester_of(day: date) -> str:
    """Return the semester a date falls in (the contracts' calendar)."""
    return str(Semester.of(day))


def current_semester(today: date | None = None) -> str:
    """Return today's semester (today in the deployment's zone)."""
    return semester_of(today or calendar.today())


def semester_start(semester: str) -> date:
    """Return the first day of a semester as a period (1 February or 1 August)."""
    parse_semester(semester)
    return Semester.parse(semester).first_day


def semester_label(semester: str) -> str:
    """Return the Chinese name of a semester, e.g. 2026年秋季学期."""
    parse_semester(semester)
    return Semester.parse(semester).label


def deadline_of(semester: str, settings: Settings | None = None) -> date:
    """Return the payment deadline of a semester (NOL_SUBSIDY_DEADLINES, default 15 June / 30 November)."""
    year, term = parse_semester(semester)
    raw = (settings or get_settings()).subsidy_deadlines.get(term) or DEFAULT_DEADLINES[term]
    month, day = (int(part) for part in raw.split("-"))
    deadline = date(year, month, day)
    # An autumn deadline in January lies in the semester's second calendar year.
    first = Semester(year, term).first_day
    return deadline if term == "spring" or deadline >= first else deadline.replace(year=year + 1)


def days_left(semester: str, on: date) -> int:
    return (deadline_of(semester) - on).days


def mask_name(name: str | None) -> str:
    """Mask a name for public notice: 王小明 → 王*明, 李娜 → 李*."""
    if not name:
        return ""
    if len(name) <= 2:
        return name[0] + "*"
    return name[0] + "*" * (len(name) - 2) + name[-1]


def yuan(fen: int) -> str:
    """Render fen as yuan with two decimals, without floats."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


NEAR_DEADLINE = timedelta(days=14)
