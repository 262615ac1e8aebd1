"""School days: weekdays, minus holidays, plus make-up days — nationally (NOL_HOLIDAYS) and per area."""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import delete, extract, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.calendar.models import CalendarDay
from services.dropout.calendar.schemas import CalendarPut
from services.dropout.events import emit
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.settings import get_settings

HOLIDAY, SCHOOL_DAY = "holiday", "school_day"
MAX_WALK = 400  # a calendar without school days for more than a year is a data error, not a loop
AREA_LENGTHS = (2, 4, 6, 9, 12)
# A school year has about 14 weeks of breaks and holidays (~27 % of weekdays); a calendar declaring
# most weekdays holidays would silently switch off absence recording and the dropout timers.
MAX_HOLIDAY_SHARE = 0.6


@dataclass(frozen=True)
class Calendar:
    """The school days of one area."""

    holidays: frozenset[date] = frozenset()
    extra_days: frozenset[date] = frozenset()

    def is_school_day(self, d: date) -> bool:
        return d in self.extra_days or (d.weekday() < 5 and d not in self.holidays)

    def previous(self, d: date) -> date | None:
        """Return the school day before `d`."""
        for _ in range(MAX_WALK):
            d -= timedelta(days=1)
            if self.is_school_day(d):
                return d
        return None

    def following(self, d: date) -> date | None:
        """Return the school day after `d`."""
        for _ in range(MAX_WALK):
            d += timedelta(days=1)
            if self.is_school_day(d):
                return d
        return None

    def school_days(self, after: date, until: date) -> list[date]:
        """Return the school days in (after, until]."""
        out, d = [], after
        while (d := d + timedelta(days=1)) <= until:
            if self.is_school_day(d):
                out.append(d)
        return out

    def back(self, d: date, n: int) -> date:
        """Return the first of the last `n` school days ending at `d` (inclusive when `d` is one)."""
        start = d if self.is_school_day(d) else (self.previous(d) or d)
        for _ in range(n - 1):
            start = self.previous(start) or start
        return start


def prefixes(area_code: str) -> list[str]:
    return [area_code[:n] for n in AREA_LENGTHS if n <= len(area_code)]


async def calendars_for(session: AsyncSession, areas: Iterable[str | None]) -> dict[str, Calendar]:
    """Return the calendar of each area: the national holidays, then each enclosing area's entries."""
    areas = {a for a in areas if a}
    wanted = {p for a in areas for p in prefixes(a)}
    rows = []
    if wanted:
        rows = (
            await session.execute(
                select(CalendarDay.area_code, CalendarDay.day, CalendarDay.kind).where(
                    CalendarDay.area_code.in_(wanted)
                )
            )
        ).all()
    rows.sort(key=lambda r: len(r.area_code))  # the narrower area has the last word
    national = {d: HOLIDAY for d in get_settings().holidays}
    out = {}
    for area in areas:
        days = dict(national)
        for row in rows:
            if area.startswith(row.area_code):
                days[row.day] = row.kind
        out[area] = Calendar(
            holidays=frozenset(d for d, k in days.items() if k == HOLIDAY),
            extra_days=frozenset(d for d, k in days.items() if k == SCHOOL_DAY),
        )
    return out


async def calendar_for(session: AsyncSession, area: str | None) -> Calendar:
    if not area:
        return Calendar(holidays=frozenset(get_settings().holidays))
    return (await calendars_for(session, [area]))[area]


async def put_year(session: AsyncSession, principal: Principal, *, year: int, data: CalendarPut) -> str:
    """Replace an area's holidays and make-up days of one year; return the area code."""
    if principal.role not in (Role.admin, Role.county):
        raise Forbidden("Only county and admin users keep the school calendar")
    area = data.area_code or principal.area_code
    if not area.startswith(principal.area_code):
        raise NotFound(f"No area {area} in your scope")
    days: dict[date, tuple[str, str | None]] = {}
    for i, entry in enumerate(data.days):
        last = entry.until or entry.date
        for loc, d in (("date", entry.date), ("until", last)):
            if d.year != year:
                raise Invalid(["days", i, loc], f"{d} is not in {year}")
        d = entry.date
        while d <= last:
            days[d] = (entry.kind, entry.name)
            d += timedelta(days=1)
    _check_plausible(days, year=year)
    await session.execute(
        delete(CalendarDay).where(CalendarDay.area_code == area, extract("year", CalendarDay.day) == year)
    )
    session.add_all(
        CalendarDay(area_code=area, day=d, kind=k, name=n, created_by=principal.username)
        for d, (k, n) in days.items()
    )
    await session.flush()
    await emit(
        session,
        "edu.dropout.calendar.updated",
        subject=area,
        area_code=area,
        data={
            "area_code": area,
            "year": year,
            "holidays": sorted(d.isoformat() for d, (k, _) in days.items() if k == HOLIDAY),
            "school_days": sorted(d.isoformat() for d, (k, _) in days.items() if k == SCHOOL_DAY),
        },
    )
    return area


def _check_plausible(days: dict[date, tuple[str, str | None]], *, year: int) -> None:
    """Refuse a year whose holidays (with the national ones) cover most of its weekdays."""
    weekdays = [date(year, 1, 1) + timedelta(days=i) for i in range(366)]
    weekdays = [d for d in weekdays if d.year == year and d.weekday() < 5]
    national = set(get_settings().holidays)
    off = sum(1 for d in weekdays if (days[d][0] == HOLIDAY if d in days else d in national))
    if off > MAX_HOLIDAY_SHARE * len(weekdays):
        raise Invalid(
            ["days"],
            f"{off} of the {len(weekdays)} weekdays of {year} would be holidays (at most "
            f"{int(MAX_HOLIDAY_SHARE * 100)} %): that would stop absence recording; check the entries",
        )


async def effective_year(session: AsyncSession, *, area: str, year: int) -> list[dict]:
    """Return the entries in force for an area in a year, each with the area that set it."""
    rows = (
        await session.execute(
            select(CalendarDay).where(
                CalendarDay.area_code.in_(prefixes(area)), extract("year", CalendarDay.day) == year
            )
        )
    ).scalars()
    days: dict[date, dict] = {
        d: {"date": d, "kind": HOLIDAY, "name": None, "area_code": None}
        for d in get_settings().holidays
        if d.year == year
    }
    for row in sorted(rows, key=lambda r: len(r.area_code)):
        days[row.day] = {"date": row.day, "kind": row.kind, "name": row.name, "area_code": row.area_code}
    return [days[d] for d in sorted(days)]
