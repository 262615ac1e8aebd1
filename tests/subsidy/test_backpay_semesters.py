"""Back-pay across semesters: a status dated back into paid semesters is owed each of them (补发).

Categories are judged at each semester's census day from the household's dated statuses, so a
household registered poor from the current semester on is not eligible for an earlier one.
"""

from datetime import timedelta

from services.contracts.calendar import Semester
from tests.helpers import World, eventually
from tests.subsidy.helpers import (
    CURRENT,
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    world_projected,
)

DISBURSEMENTS = "/api/v1/subsidy/disbursements"
NOW = Semester.parse(CURRENT)
# Three semesters the back-pay horizon (4) reaches, oldest first; they span two calendar years at most.
SEMS = [NOW.previous().previous(), NOW.previous(), NOW]


async def household(world: World, statuses: list[dict]) -> dict:
    body = {"head_name": "王五", "area_code": world.villages[0], "statuses": statuses}
    return await world.users["county"].ok("POST", "/api/v1/households", 201, json=body)


async def date_status(world: World, hh: dict, kind: str, since: str) -> None:
    await world.users["county"].ok(
        "PATCH",
        f"/api/v1/households/{hh['id']}",
        json={"version": hh["version"], "statuses": [{"kind": kind, "since": since}]},
    )


async def pay_semesters(world: World, policy: dict, semesters: list[Semester]) -> list[dict]:
    return [await approve_and_pay(world, await make_batch(world.users["school"], world, policy, str(s)))
            for s in semesters]  # fmt: skip


async def lines_of(world: World, student: dict, status: str | None = None) -> list[dict]:
    params = {"student_id": student["id"], **({"status": status} if status else {})}
    return (await world.users["county"].ok("GET", DISBURSEMENTS, params=params))["items"]


class TestBackPayAcrossSemesters:
    async def test_status_dated_back_is_owed_every_paid_semester_at_its_amount(self, world: World, db):
        u = world.users
        years = sorted({s.year for s in SEMS})
        policy = await make_policy(u["county"], years=years, categories=["registered_poor"])
        hh = await household(world, [])
        late = await add_student(world, groups=[], household_id=hh["id"])
        poor = await add_student(world, groups=[], household_id=(await household(world, [
            {"kind": "registered_poor", "since": "2016-06-01"}]))["id"])  # fmt: skip
        await world_projected(db, world, late, poor)
        paid = await pay_semesters(world, policy, SEMS)
        assert all(late["id"] in {e["student_id"] for e in b["excluded"]} for b in paid)
        # A new revision for the newest year: each semester is owed at its own revision's amount.
        new_amount = 70000
        body = {"version": policy["version"], "amount_fen": new_amount, "years": [NOW.year]}
        await u["county"].ok("PATCH", f"/api/v1/subsidy/policies/{policy['code']}", json=body)
        since = SEMS[0].first_day + timedelta(days=28)
        await date_status(world, hh, "registered_poor", since.isoformat())

        async def proposals():
            rows = await lines_of(world, late, "proposed")
            return rows if len(rows) == len(SEMS) else None

        rows = await eventually(proposals, timeout=20)
        by_semester = {r["semester"]: r for r in rows}
        assert sorted(by_semester) == sorted(str(s) for s in SEMS)
        for sem in SEMS:
            row = by_semester[str(sem)]
            assert row["kind"] == "back_pay" and row["batch_id"] is None
            assert row["amount_fen"] == (new_amount if sem.year == NOW.year else 62500)
            assert f"registered_poor since {since.isoformat()}" in row["reason"]
            assert row["categories"] == ["registered_poor"]
        # The child paid all along is not proposed again.
        assert [r["status"] for r in await lines_of(world, poor)] == ["paid"] * len(SEMS)

    async def test_horizon_limits_how_far_back(self, world: World, db):
        u = world.users
        old = [NOW.previous().previous().previous().previous(), NOW.previous().previous().previous()]
        policy = await make_policy(u["county"], years=sorted({s.year for s in old}), categories=["dibao"])
        hh = await household(world, [])
        late = await add_student(world, groups=[], household_id=hh["id"])
        await world_projected(db, world, late)
        await pay_semesters(world, policy, old)
        await date_status(world, hh, "dibao", old[0].first_day.isoformat())

        async def proposals():
            return [r["semester"] for r in await lines_of(world, late, "proposed")]

        # Four semesters back, the current included: the fifth-oldest is out of reach.
        assert await eventually(proposals, timeout=20) == [str(old[1])]

    async def test_categories_are_those_of_the_census_day(self, world: World, db):
        u = world.users
        policy = await make_policy(u["county"], years=sorted({NOW.previous().year, NOW.year}),
                                   categories=["registered_poor"])  # fmt: skip
        # Registered poor from the current semester's first day: poor now, not in the semester before.
        hh = await household(world, [{"kind": "registered_poor", "since": NOW.first_day.isoformat()}])
        s = await add_student(world, groups=[], household_id=hh["id"])
        await world_projected(db, world, s)
        before = await make_batch(u["school"], world, policy, str(NOW.previous()))
        assert {e["student_id"]: e["reason"] for e in before["excluded"]}[s["id"]] == "category"
        now = await make_batch(u["school"], world, policy, CURRENT)
        (line,) = [x for x in now["lines"] if x["student_id"] == s["id"]]
        assert line["categories"] == ["registered_poor"]
