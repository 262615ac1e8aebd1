"""The date rules on their own (no stack): school days, absence windows, the verdict on a return."""

from datetime import date, timedelta

from services.contracts.calendar import zone
from services.dropout.absences.rules import window_reaching
from services.dropout.calendar.service import Calendar
from services.dropout.cases.checks import return_verdict, seconds_until_next_run
from services.dropout.domain import is_compulsory, semester_start

D = date.fromisoformat
HOLIDAY = Calendar(holidays=frozenset({D("2026-10-21")}), extra_days=frozenset({D("2026-10-10")}))


def days(*isos: str) -> set[date]:
    return {D(i) for i in isos}


class TestCalendar:
    def test_walks_over_weekends_holidays_and_make_up_days(self):
        assert HOLIDAY.following(D("2026-10-20")) == D("2026-10-22")
        assert HOLIDAY.previous(D("2026-10-12")) == D("2026-10-10")  # the make-up Saturday
        assert HOLIDAY.previous(D("2026-10-19")) == D("2026-10-16")
        assert HOLIDAY.school_days(D("2026-10-16"), D("2026-10-23")) == [
            D("2026-10-19"),
            D("2026-10-20"),
            D("2026-10-22"),
            D("2026-10-23"),
        ]
        assert HOLIDAY.back(D("2026-10-25"), 3) == D("2026-10-20")  # 23, 22, (21 off), 20


class TestWindows:
    """N unexplained days within W school days (3 within 10 by default): consecutive or scattered."""

    def test_weekend_and_holiday_do_not_break(self):
        assert window_reaching(
            days("2026-10-16", "2026-10-19", "2026-10-20"), [D("2026-10-19")], HOLIDAY, 3, 3, None
        ) == (D("2026-10-16"), D("2026-10-20"))
        assert window_reaching(
            days("2026-10-20", "2026-10-22", "2026-10-23"), [D("2026-10-23")], HOLIDAY, 3, 3, None
        )

    def test_scattered_days_within_the_window_count(self):
        scattered = days("2026-10-12", "2026-10-15", "2026-10-20")  # Mon, Thu, next Tue: 7 school days
        assert window_reaching(scattered, [D("2026-10-20")], HOLIDAY, 3, 10, None) == (
            D("2026-10-12"),
            D("2026-10-20"),
        )
        # With a window of three school days (consecutive only), the attended days between break it.
        assert window_reaching(scattered, [D("2026-10-20")], HOLIDAY, 3, 3, None) is None

    def test_days_further_apart_than_the_window_do_not(self):
        far = days("2026-10-12", "2026-10-19", "2026-10-27")  # 11 school days from first to last
        assert window_reaching(far, [D("2026-10-27")], HOLIDAY, 3, 10, None) is None
        assert window_reaching(far, [D("2026-10-27")], HOLIDAY, 3, 12, None) == (
            D("2026-10-12"),
            D("2026-10-27"),
        )

    def test_days_up_to_a_return_do_not_count(self):
        absent = days("2026-10-13", "2026-10-14", "2026-10-15", "2026-10-16")
        assert window_reaching(absent, [D("2026-10-16")], HOLIDAY, 3, 10, D("2026-10-14")) is None
        assert window_reaching(absent, [D("2026-10-16")], HOLIDAY, 3, 10, D("2026-10-13")) == (
            D("2026-10-14"),
            D("2026-10-16"),
        )

    def test_threshold_is_a_setting(self):
        assert window_reaching(days("2026-10-13", "2026-10-14"), [D("2026-10-14")], HOLIDAY, 2, 10, None)


class TestReturnVerdict:
    def verdict(self, absences: dict, today: str, confirm: int = 5):
        return return_verdict(
            returned_on=D("2026-10-12"),
            absences={D(k): v for k, v in absences.items()},
            calendar=HOLIDAY,
            today=D(today),
            confirm_days=confirm,
            threshold=3,
        )

    def test_confirmed_after_five_attended_days(self):
        assert self.verdict({}, "2026-10-19") is None  # 13, 14, 15, 16: four days over
        assert self.verdict({}, "2026-10-20") == ("confirm", D("2026-10-19"), None)
        assert self.verdict({}, "2026-10-20", confirm=2) == ("confirm", D("2026-10-14"), None)

    def test_today_is_not_over(self):
        assert self.verdict({}, "2026-10-19") is None

    def test_unexplained_day_restarts_the_count(self):
        assert self.verdict({"2026-10-15": "unexplained"}, "2026-10-23") is None  # 16 19 20 22: four
        assert self.verdict({"2026-10-15": "unexplained"}, "2026-10-24") == ("confirm", D("2026-10-23"), None)

    def test_sick_day_neither_counts_nor_restarts(self):
        assert self.verdict({"2026-10-15": "sick"}, "2026-10-21") == ("confirm", D("2026-10-20"), None)

    def test_three_unexplained_reopen(self):
        absent = {"2026-10-16": "unexplained", "2026-10-19": "unexplained", "2026-10-20": "unexplained"}
        assert self.verdict(absent, "2026-10-30") == ("reopen", D("2026-10-20"), D("2026-10-16"))


class TestCompulsory:
    def test_stage_or_age(self):
        on = semester_start("2026-autumn")
        assert is_compulsory(stage="primary", birth_date=None, on=on)
        assert is_compulsory(stage="senior", birth_date=D("2011-09-02"), on=on)  # 14 on 1 September
        assert not is_compulsory(stage="senior", birth_date=D("2010-08-31"), on=on)  # 16
        assert not is_compulsory(stage="preschool", birth_date=D("2021-01-01"), on=on)  # 5
        assert semester_start("2027-spring") == D("2027-03-01")


def test_daily_run_is_at_two_in_the_morning_cst():
    from datetime import datetime, time

    at = datetime.combine(D("2026-10-12"), time(1, 0), zone())
    assert seconds_until_next_run(at) == 3600
    assert seconds_until_next_run(at + timedelta(hours=1)) == 24 * 3600
