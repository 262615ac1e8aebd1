"""The school calendar of the contracts, on its own (no stack): one calendar for every date rule.

"Today" is the date in the deployment's zone (Asia/Shanghai unless NOL_TIMEZONE says otherwise):
at 23:30 UTC it is already 07:30 the next morning in Beijing. The last test fails when a module of
a service or of the gateway asks the server's clock for a naive date or time instead.
"""

import ast
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from services.contracts import calendar
from services.contracts.calendar import BadSemester, Semester
from services.kit.settings import get_settings

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("services", "api_gateway")
LATE_EVENING_UTC = datetime(2026, 8, 31, 23, 30, tzinfo=UTC)  # 2026-09-01 07:30 in Beijing
D = date.fromisoformat


@pytest.fixture
def zone_from_env(monkeypatch):
    """Let a test set NOL_TIMEZONE; the cached settings and zone are read afresh, then restored."""

    def use(name: str) -> None:
        monkeypatch.setenv("NOL_TIMEZONE", name)
        get_settings.cache_clear()
        calendar.zone.cache_clear()

    yield use
    monkeypatch.delenv("NOL_TIMEZONE", raising=False)
    get_settings.cache_clear()
    calendar.zone.cache_clear()


@pytest.fixture(autouse=True)
def default_zone(monkeypatch):
    """Every test starts in the default zone, whatever the environment running the tests says."""
    monkeypatch.delenv("NOL_TIMEZONE", raising=False)
    get_settings.cache_clear()
    calendar.zone.cache_clear()


class TestToday:
    def test_late_evening_utc_is_the_next_morning_in_beijing(self):
        assert str(calendar.zone()) == "Asia/Shanghai"
        assert calendar.today(at=LATE_EVENING_UTC) == D("2026-09-01")
        assert LATE_EVENING_UTC.date() == D("2026-08-31")  # what a naive rule would have said

    def test_the_semester_of_that_morning_is_autumn(self):
        assert str(calendar.current_semester(at=LATE_EVENING_UTC)) == "2026-autumn"
        assert str(calendar.current_semester(at=datetime(2026, 1, 31, 16, 0, tzinfo=UTC))) == "2026-spring"
        assert str(calendar.current_semester(at=datetime(2026, 1, 31, 15, 59, tzinfo=UTC))) == "2025-autumn"

    def test_local_date_and_start_of_day(self):
        assert calendar.local_date(LATE_EVENING_UTC) == D("2026-09-01")
        assert calendar.local_date(datetime(2026, 9, 1, 15, 59, tzinfo=UTC)) == D("2026-09-01")
        assert calendar.local_date(datetime(2026, 9, 1, 16, 0, tzinfo=UTC)) == D("2026-09-02")
        midnight = calendar.start_of_day(D("2026-09-01"))
        assert midnight.utcoffset() == timedelta(hours=8)
        assert midnight.astimezone(UTC) == datetime(2026, 8, 31, 16, 0, tzinfo=UTC)

    def test_now_is_aware_and_in_the_zone(self):
        now = calendar.now()
        assert now.tzinfo is not None and now.utcoffset() == timedelta(hours=8)
        assert calendar.today() == now.date()

    def test_a_configured_zone_wins(self, zone_from_env):
        zone_from_env("UTC")
        assert str(calendar.zone()) == "UTC"
        assert calendar.today(at=LATE_EVENING_UTC) == D("2026-08-31")
        assert str(calendar.current_semester(at=LATE_EVENING_UTC)) == "2026-autumn"
        assert calendar.local_date(datetime(2026, 1, 31, 23, 30, tzinfo=UTC)) == D("2026-01-31")
        zone_from_env("America/New_York")
        assert calendar.today(at=datetime(2026, 9, 1, 3, 0, tzinfo=UTC)) == D("2026-08-31")


class TestSemesters:
    @pytest.mark.parametrize(
        ("text", "first", "last", "opening", "census", "school_year"),
        [
            ("2026-spring", "2026-02-01", "2026-07-31", "2026-03-01", "2026-03-31", 2025),
            ("2026-autumn", "2026-08-01", "2027-01-31", "2026-09-01", "2026-09-30", 2026),
            ("2024-spring", "2024-02-01", "2024-07-31", "2024-03-01", "2024-03-31", 2023),
        ],
    )
    def test_days_of_a_semester(self, text, first, last, opening, census, school_year):
        s = Semester.parse(text)
        assert str(s) == text
        assert (s.first_day, s.last_day) == (D(first), D(last))
        assert (s.opening_day, s.census_day) == (D(opening), D(census))
        assert s.school_year == school_year

    @pytest.mark.parametrize(
        ("day", "semester"),
        [
            ("2026-01-31", "2025-autumn"),
            ("2026-02-01", "2026-spring"),
            ("2026-07-31", "2026-spring"),
            ("2026-08-01", "2026-autumn"),
            ("2026-12-31", "2026-autumn"),
        ],
    )
    def test_every_day_belongs_to_one_semester(self, day, semester):
        assert str(Semester.of(D(day))) == semester

    def test_the_periods_tile_the_years(self):
        s = Semester.parse("2024-spring")
        for _ in range(8):
            assert s.next().first_day == s.last_day + timedelta(days=1)
            assert s.next().previous() == s
            assert Semester.of(s.first_day) == s == Semester.of(s.last_day)
            s = s.next()

    def test_order_labels_and_neighbours(self):
        assert Semester.parse("2026-spring") < Semester.parse("2026-autumn") < Semester.parse("2027-spring")
        assert Semester.parse("2026-autumn").label == "2026年秋季学期"
        assert Semester.parse("2026-spring").label == "2026年春季学期"
        assert str(Semester.parse("2026-autumn").next()) == "2027-spring"
        assert str(Semester.parse("2026-spring").previous()) == "2025-autumn"

    @pytest.mark.parametrize("text", ["", "2026", "2026-summer", "26-autumn", "1999-spring", "2101-autumn",
                                      "2026-Autumn", " 2026-spring"])  # fmt: skip
    def test_bad_semesters_are_refused(self, text):
        with pytest.raises(BadSemester):
            Semester.parse(text)


class TestCensusAndSchoolYears:
    def test_census_days_are_in_their_semester(self):
        for year in (2024, 2025, 2026):
            for term in calendar.TERMS:
                s = Semester(year, term)
                assert s.first_day <= s.opening_day < s.census_day <= s.last_day
                assert Semester.of(s.census_day) == s

    @pytest.mark.parametrize(
        ("day", "start"),
        [
            ("2026-08-31", "2025-09-01"),
            ("2026-09-01", "2026-09-01"),
            ("2027-01-15", "2026-09-01"),
            ("2027-03-01", "2026-09-01"),
        ],
    )
    def test_school_year_starts_on_1_september(self, day, start):
        assert calendar.school_year_start(D(day)) == D(start)

    def test_a_semester_and_its_days_share_a_school_year(self):
        for text in ("2026-autumn", "2027-spring"):
            s = Semester.parse(text)
            assert calendar.school_year_start(s.opening_day) == date(s.school_year, 9, 1)
            assert calendar.school_year_start(s.census_day) == date(s.school_year, 9, 1)

    def test_age_on_a_day(self):
        born = D("2014-09-01")
        assert calendar.age_on(born, D("2026-08-31")) == 11
        assert calendar.age_on(born, D("2026-09-01")) == 12
        assert calendar.age_on(D("2016-02-29"), D("2026-02-28")) == 9
        assert calendar.age_on(D("2016-02-29"), D("2026-03-01")) == 10


# --- no module asks the server's clock for a naive date or time ------------------------------------


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def naive_clock_calls(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Yield (line, call) for date.today(), datetime.today(), datetime.utcnow() and a naive datetime.now()."""
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        name = _dotted(node.func)
        last_two = ".".join(name.split(".")[-2:])
        if last_two in ("date.today", "datetime.today", "datetime.utcnow", "datetime.utcfromtimestamp"):
            yield node.lineno, f"{name}()"
        elif last_two in ("datetime.now", "datetime.fromtimestamp"):
            tz = [k.value for k in node.keywords if k.arg == "tz"]
            positional = node.args[1:] if last_two == "datetime.fromtimestamp" else node.args
            zone = tz[0] if tz else (positional[0] if positional else None)
            if zone is None or _is_none(zone):
                yield node.lineno, f"{name}() without a time zone"


def _sources() -> Iterator[Path]:
    for top in SCANNED:
        yield from sorted((ROOT / top).rglob("*.py"))


def test_the_scan_finds_naive_clock_calls():
    sample = ast.parse(
        "import datetime as dt\nfrom datetime import date, datetime\n"
        "date.today()\ndatetime.now()\ndatetime.now(None)\ndatetime.utcnow()\ndt.date.today()\n"
        "dt.datetime.now(tz=None)\ndatetime.fromtimestamp(0)\n"
        "datetime.now(UTC)\ndatetime.now(tz=zone())\ndatetime.fromtimestamp(0, UTC)\ncalendar.today()\n"
    )
    assert [line for line, _ in naive_clock_calls(sample)] == [3, 4, 5, 6, 7, 8, 9]


def test_no_service_or_gateway_module_reads_a_naive_clock():
    found = []
    for path in _sources():
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
        found += [f"{path.relative_to(ROOT)}:{line}: {call}" for line, call in naive_clock_calls(tree)]
    assert not found, "use services.contracts.calendar (today(), now(), local_date()):\n" + "\n".join(found)
