"""A return waits in returned_pending until the student has attended the confirmation days."""

from datetime import date, datetime, timedelta, timezone

from tests.dropout.helpers import CASES, CHECKS, absence, events, post, student, tasks
from tests.helpers import World

CST = timezone(timedelta(hours=8))


def today_cst() -> date:
    return datetime.now(CST).date()


def weekdays_after(d: date, n: int) -> list[date]:
    out = []
    while len(out) < n:
        d += timedelta(days=1)
        if d.weekday() < 5:
            out.append(d)
    return out


def a_weekday_weeks_ago() -> tuple[date, list[date]]:
    """A weekday three weeks back and the weekdays from then to yesterday (the test county has no holidays)."""
    r = today_cst() - timedelta(days=21)
    while r.weekday() >= 5:
        r -= timedelta(days=1)
    days = [d for d in weekdays_after(r, 30) if d < today_cst()]
    return r, days


async def opened(world: World, s: dict, on: date) -> dict:
    return await world.users["school"].ok(
        "POST",
        CASES,
        201,
        json={"student_id": s["id"], "opened_on": on.isoformat(), "reason_group": "weariness"},
    )


async def close_returned(world: World, case: dict, on: date | None = None) -> dict:
    body = {"kind": "close", "outcome": "returned"}
    if on:
        body["occurred_at"] = f"{on.isoformat()}T08:00:00+08:00"
    return await world.users["school"].ok("POST", f"{CASES}/{case['id']}/actions", 201, json=body)


class TestReturnedPending:
    async def test_confirmed_by_the_daily_check_after_five_school_days(self, world: World, db):
        s = await student(world, db)
        case = await opened(world, s, today_cst() - timedelta(days=3))
        got = await close_returned(world, case)
        assert (got["status"], got["outcome"], got["returned_on"]) == (
            "returned_pending",
            "returned",
            today_cst().isoformat(),
        )
        county = world.users["county"]
        later = weekdays_after(today_cst(), 6)
        assert (await county.ok("POST", CHECKS, json={"today": later[2].isoformat()}))["confirmed"] == 0
        result = await county.ok("POST", CHECKS, json={"today": later[5].isoformat()})
        assert result["confirmed"] == 1
        got = await county.ok("GET", f"{CASES}/{case['id']}")
        assert (got["status"], got["confirmed_on"]) == ("closed", later[4].isoformat())
        (confirmed,) = await events(db, "edu.dropout.case.returned_confirmed", case_id=case["id"])
        assert confirmed["data"]["returned_on"] == today_cst().isoformat()
        (closed,) = await events(db, "edu.dropout.case.closed", case_id=case["id"])
        assert closed["data"]["status"] == "returned_pending"

    async def test_unexplained_days_keep_it_pending_until_explained(self, world: World, db):
        r, days = a_weekday_weeks_ago()
        s = await student(world, db)
        case = await opened(world, s, r - timedelta(days=3))
        missed = days[0::2]  # every other day: never five in a row attended, never three missed
        await post(world.users["school"], [absence(s, d.isoformat()) for d in missed])
        got = await close_returned(world, case, r)
        assert got["status"] == "returned_pending"
        # The school learns they were leave days after all: the post itself confirms the return.
        await post(world.users["school"], [absence(s, d.isoformat(), "leave") for d in missed])
        got = await world.users["school"].ok("GET", f"{CASES}/{case['id']}")
        assert (got["status"], got["confirmed_on"]) == ("closed", days[1::2][4].isoformat())

    async def test_three_unexplained_days_after_the_return_reopen(self, world: World, db):
        r, days = a_weekday_weeks_ago()
        s = await student(world, db)
        case = await opened(world, s, r - timedelta(days=3))
        await post(world.users["school"], [absence(s, d.isoformat()) for d in days[:3]])
        got = await close_returned(world, case, r)
        assert (got["status"], got["absent_since"], got["outcome"]) == ("open", days[0].isoformat(), None)
        (reopened,) = await events(db, "edu.dropout.case.reopened", case_id=case["id"])
        assert reopened["data"]["reopened_on"] == days[2].isoformat()
        assert [t["kind"] for t in await tasks(world.users["school"], case_id=case["id"])] == ["persuade"]
