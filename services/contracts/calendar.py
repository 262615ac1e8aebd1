"""The school calendar, defined once: semesters, their days, census days, school years, "today".

A semester is `YYYY-spring` or `YYYY-autumn`. As a period it covers the whole year, so every
date belongs to exactly one semester: spring runs 1 February – 31 July, autumn 1 August –
31 January (summer vacation belongs to autumn, winter vacation to autumn too). Classes begin
(开学) on 1 March and 1 September: the start-of-semester check (开学核查) refers to that day.
Enrollment is counted on the census days 31 March and 30 September. The school year starts on
1 September. "Today" is the date in the deployment's time zone (`NOL_TIMEZONE`, default
Asia/Shanghai), never the server's local date: on a UTC server 23:30 is already tomorrow in Beijing.
"""

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache, total_ordering
from typing import Annotated
from zoneinfo import ZoneInfo

from pydantic import AfterValidator

SEMESTER_PATTERN = r"^20[0-9]{2}-(spring|autumn)$"
_SEMESTER_RE = re.compile(r"^(20[0-9]{2})-(spring|autumn)$")
TERMS = ("spring", "autumn")


class BadSemester(ValueError):
    """Not `YYYY-spring` / `YYYY-autumn` between 2000 and 2100."""


@total_ordering
@dataclass(frozen=True)
class Semester:
    year: int
    term: str  # spring | autumn

    def __lt__(self, other: "Semester") -> bool:
        # In time order: spring before autumn of a year (not the alphabetical order of the words).
        if not isinstance(other, Semester):
            return NotImplemented
        return (self.year, TERMS.index(self.term)) < (other.year, TERMS.index(other.term))

    @classmethod
    def parse(cls, text: str) -> "Semester":
        """Read `YYYY-spring` / `YYYY-autumn`; BadSemester otherwise."""
        m = _SEMESTER_RE.match(text or "")
        if not m or not 2000 <= int(m.group(1)) <= 2100:
            raise BadSemester("semester must be YYYY-spring or YYYY-autumn")
        return cls(int(m.group(1)), m.group(2))

    @classmethod
    def of(cls, day: date) -> "Semester":
        """Return the semester a date falls in (spring February–July, autumn August–January)."""
        if 2 <= day.month <= 7:
            return cls(day.year, "spring")
        return cls(day.year if day.month >= 8 else day.year - 1, "autumn")

    def __str__(self) -> str:
        return f"{self.year}-{self.term}"

    @property
    def first_day(self) -> date:
        """The first day of the semester as a period (1 February / 1 August)."""
        return date(self.year, 2, 1) if self.term == "spring" else date(self.year, 8, 1)

    @property
    def last_day(self) -> date:
        """The last day of the semester as a period (31 July / 31 January)."""
        return date(self.year, 7, 31) if self.term == "spring" else date(self.year + 1, 1, 31)

    @property
    def opening_day(self) -> date:
        """The day classes begin (开学): 1 March / 1 September; the start check refers to it."""
        return date(self.year, 3, 1) if self.term == "spring" else date(self.year, 9, 1)

    @property
    def census_day(self) -> date:
        """The day enrollment is counted on: 31 March / 30 September."""
        return date(self.year, 3, 31) if self.term == "spring" else date(self.year, 9, 30)

    @property
    def school_year(self) -> int:
        """The calendar year the semester's school year began in (2026-spring → 2025)."""
        return self.year if self.term == "autumn" else self.year - 1

    @property
    def label(self) -> str:
        """The Chinese name, e.g. 2026年秋季学期."""
        return f"{self.year}年{'春季' if self.term == 'spring' else '秋季'}学期"

    def next(self) -> "Semester":
        return Semester(self.year, "autumn") if self.term == "spring" else Semester(self.year + 1, "spring")

    def previous(self) -> "Semester":
        return Semester(self.year - 1, "autumn") if self.term == "spring" else Semester(self.year, "spring")


def school_year_start(on: date) -> date:
    """Return 1 September of the school year `on` falls in."""
    return date(on.year if on.month >= 9 else on.year - 1, 9, 1)


def age_on(birth_date: date, on: date) -> int:
    """Return the age in whole years on a day."""
    return on.year - birth_date.year - ((on.month, on.day) < (birth_date.month, birth_date.day))


@lru_cache
def zone() -> ZoneInfo:
    """Return the deployment's time zone (NOL_TIMEZONE, default Asia/Shanghai)."""
    from services.kit.settings import get_settings

    return ZoneInfo(get_settings().timezone)


def now() -> datetime:
    """Return the current time, aware, in the deployment's zone."""
    return datetime.now(UTC).astimezone(zone())


def today(at: datetime | None = None) -> date:
    """Return today's date in the deployment's zone (of `at`, an aware time, when given)."""
    return (at or datetime.now(UTC)).astimezone(zone()).date()


def local_date(at: datetime) -> date:
    """Return the date of an aware time in the deployment's zone."""
    return at.astimezone(zone()).date()


def current_semester(at: datetime | None = None) -> Semester:
    """Return the semester today falls in."""
    return Semester.of(today(at))


def start_of_day(day: date) -> datetime:
    """Return midnight of a local date as an aware time."""
    return datetime(day.year, day.month, day.day, tzinfo=zone())


ONE_DAY = timedelta(days=1)


# Plausibility bounds, once for every schema: an absence dated 0001-01-01 or a case opened in 1900 is a
# typing error (or a probe), never a fact this system could hold. Events (absences, cases, visits,
# sessions, enrollment changes, payments, household statuses) lie between the first day of 2000 and a
# year from today; people are born from 1900 on (the ID number's date is checked against it too).
EARLIEST_EVENT = date(2000, 1, 1)
EVENT_HORIZON = timedelta(days=366)
EARLIEST_BIRTH = date(1900, 1, 1)


def event_date_problem(day: date, *, on: date | None = None) -> str | None:
    """Return why a date is implausible for an event recorded on `on` (default today), or None."""
    latest = (on or today()) + EVENT_HORIZON
    if day < EARLIEST_EVENT:
        return f"must not be before {EARLIEST_EVENT.isoformat()}"
    if day > latest:
        return f"must not be more than a year ahead (after {latest.isoformat()})"
    return None


def birth_date_problem(day: date, *, on: date | None = None) -> str | None:
    """Return why a birth date is implausible, or None."""
    if day < EARLIEST_BIRTH:
        return f"must not be before {EARLIEST_BIRTH.isoformat()}"
    if day > (on or today()):
        return "must not be in the future"
    return None


def _event_date(value: date) -> date:
    if (problem := event_date_problem(value)) is not None:
        raise ValueError(problem)
    return value


def _event_time(value: datetime) -> datetime:
    day = local_date(value) if value.tzinfo is not None else value.date()
    if (problem := event_date_problem(day)) is not None:
        raise ValueError(problem)
    return value


def _birth_date(value: date) -> date:
    if (problem := birth_date_problem(value)) is not None:
        raise ValueError(problem)
    return value


# A phone's clock runs a little fast: a time it gives for an event (a home visit's `occurred_at`, a
# photo's `device_time`) up to CLIENT_CLOCK_SKEW ahead of the server is taken as "now" (clamped), so a
# write queued offline is not refused for ever; further ahead is refused, naming the field. The rule
# lives here, once; every schema with such a field uses `ClientTimestamp`.
CLIENT_CLOCK_SKEW = timedelta(minutes=10)
CLIENT_TIME = (
    "With a zone, e.g. +08:00. A time up to 10 minutes ahead of the server's clock (a phone's fast clock) "
    "is taken as now; further ahead is refused (422 naming the field)."
)


def client_time(value: datetime, *, at: datetime | None = None) -> datetime:
    """Return a client's time of an event, clamped to `at` (default now) when it lies at most
    CLIENT_CLOCK_SKEW ahead; ValueError when it has no zone, lies further ahead or is implausible."""
    if value.tzinfo is None:
        raise ValueError("needs a time zone (e.g. Z or +08:00)")
    current = at or datetime.now(UTC)
    if value > current + CLIENT_CLOCK_SKEW:
        minutes = int(CLIENT_CLOCK_SKEW.total_seconds() // 60)
        raise ValueError(f"is in the future (more than {minutes} minutes ahead of the server's clock)")
    if value > current:
        return current.astimezone(value.tzinfo)
    return _event_time(value)


def _client_time(value: datetime) -> datetime:
    return client_time(value)


EventDate = Annotated[date, AfterValidator(_event_date)]
EventTime = Annotated[datetime, AfterValidator(_event_time)]
ClientTimestamp = Annotated[datetime, AfterValidator(_client_time)]
BirthDate = Annotated[date, AfterValidator(_birth_date)]
