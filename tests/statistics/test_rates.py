"""The rates by their official definitions (issue 14), on small counties built through the public API.

Each expectation is counted from the world the test builds: which child is on the roll, what became of
it, who is school-age and placed, who was paid and who acknowledged. Histories are written the way a
county records them: a change dated back to the start of the school year (`home_teaching` on 1
September keeps the child on its school's roll), then what happened later.
"""

from datetime import date, timedelta

import pytest

from services.contracts.calendar import current_semester, school_year_start, today
from tests.dropout.helpers import student as dropout_student
from tests.helpers import Api, World, birth_for, eventually, make_id_number
from tests.subsidy.helpers import add_student, approve_and_pay, make_batch, make_policy, world_projected

TODAY = today()
START = school_year_start(TODAY)
YEAR = START.year  # the school year the rates are asked for (2026 = 2026-2027)
YESTERDAY = TODAY - timedelta(days=1)
CURRENT = str(current_semester())
DISABILITY = {"category": "physical", "grade": 2}

pytestmark = pytest.mark.skipif(
    YESTERDAY <= START, reason="needs a day between the school year's start and today"
)


async def change(api: Api, student: dict, kind: str, on, **details) -> None:
    body = {"kind": kind, "effective_date": on.isoformat()} | ({"details": details} if details else {})
    await api.ok("POST", f"/api/v1/students/{student['id']}/enrollment-changes", 201, json=body)


async def on_roll_then(api: Api, student: dict, kind: str, **details) -> None:
    """On the roll since 1 September (送教上门 keeps the child on its school's roll), then `kind`."""
    await change(api, student, "home_teaching", START)
    await change(api, student, kind, YESTERDAY, **details)


async def rates(api: Api, year: int = YEAR, **params) -> dict:
    return await api.ok("GET", "/api/v1/stats/rates", params={"year": year, **params})


async def test_monitoring_dropout_and_cohort_rates(world: World):
    county = world.users["county"]
    senior = await world.school("34", world.townships[1], ["senior"], "高级中学")
    world.schools["senior"] = senior
    kid = world.student
    kept = [await kid("primary", grade=3)]
    taught = await kid("primary", grade=4)
    await change(county, taught, "home_teaching", TODAY)  # 送教上门: kept
    away = await kid("primary", grade=5)
    await change(county, away, "out_of_county", TODAY, province="广东省")  # documented 县外就读: kept
    kept += [taught, away]
    dropped = await kid("primary", grade=2)
    await on_roll_then(county, dropped, "drop_out")
    died = await kid("primary", grade=2)
    await on_roll_then(county, died, "deceased")  # leaves the base
    suspended = await kid("primary", grade=3)
    await change(county, suspended, "suspend", TODAY)  # on the roll, not kept
    finished = await kid("junior", stage="junior", grade=9)
    await on_roll_then(county, finished, "graduate")  # finished compulsory school: kept
    primary_graduate = await kid("primary", grade=6)
    await on_roll_then(county, primary_graduate, "graduate")  # did not go on to junior: not kept
    in_grade9 = await kid("junior", stage="junior", grade=9)
    in_grade8 = await kid("junior", stage="junior", grade=8)
    kept += [finished, in_grade9, in_grade8]
    never_on_roll = await kid("junior", stage="junior", grade=9)
    await change(county, never_on_roll, "deceased", TODAY)  # same day: never on this year's roll
    await kid("senior", stage="senior", grade=10)
    senior_dropped = await kid("senior", stage="senior", grade=11)
    await on_roll_then(county, senior_dropped, "drop_out")

    compulsory = [*kept, dropped, died, suspended, primary_graduate]
    base = len(compulsory) - 1  # minus the death
    got = await rates(county)
    assert got["year"] == YEAR and got["as_of"]
    assert got["consolidation_monitoring"] == {
        "numerator": len(kept), "denominator": base, "rate": round(len(kept) / base, 4)}  # fmt: skip
    assert got["dropout_compulsory"] == {"numerator": 1, "denominator": base, "rate": round(1 / base, 4)}
    primary = [s for s in compulsory if s["enrollment"]["stage"] == "primary"]
    assert got["dropout_by_stage"] == {
        "primary": {
            "numerator": 1,
            "denominator": len(primary) - 1,
            "rate": round(1 / (len(primary) - 1), 4),
        },
        "junior": {"numerator": 0, "denominator": 3, "rate": 0.0},
        "senior": {"numerator": 1, "denominator": 2, "rate": 0.5},
    }
    # The dropout figure reports the same monitoring rate under its old names.
    dropout = await county.ok("GET", "/api/v1/stats/dropout", params={"year": YEAR})
    assert (dropout["consolidation_kept"], dropout["consolidation_base"]) == (len(kept), base)
    # Cohort: those due to finish grade 9 next summer (the two in grade 9 this year; the same-day death
    # leaves the base); the one who graduated is consolidated.
    cohort = await rates(county, YEAR + 1)
    assert cohort["consolidation_cohort"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert (await rates(county, YEAR + 2))["consolidation_cohort"]["denominator"] == 1  # grade 8
    # A township sees its own schools' children only: the primary school is in the first township.
    township = await rates(world.users["township"])
    in_first = [s for s in compulsory if s["enrollment"]["school_code"] == world.schools["primary"]["code"]]
    assert township["consolidation_monitoring"]["denominator"] == len(in_first) - 1


async def test_progression_to_higher_education(world: World):
    county = world.users["county"]
    senior = await world.school("34", world.townships[1], ["senior"], "高级中学")
    college = await world.school("41", world.townships[0], ["higher"], "职业技术学院")
    world.schools["senior"] = senior
    goes, stays = [await world.student("senior", stage="senior", grade=12) for _ in range(2)]
    year = TODAY.year if TODAY > date(TODAY.year, 9, 1) else TODAY.year - 1  # the last summer
    for s in (goes, stays):
        await change(county, s, "graduate", date(year, 7, 1))
    await change(
        county, goes, "enroll", date(year, 9, 1), school_code=college["code"], stage="higher", grade=1
    )
    got = await rates(county, year)
    assert got["progression_senior_higher"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert got["progression_junior_senior"] == {"numerator": 0, "denominator": 0, "rate": None}


async def test_disabled_enrollment_counts_all_school_age_disabled_children(world: World, db):
    county = world.users["county"]
    await world.student("primary", disability=DISABILITY)  # at school: 随班就读
    home = await world.student("primary", disability=DISABILITY)
    await change(county, home, "home_teaching", TODAY)  # 送教上门: placed, and shown separately
    exempt = await dropout_student(world, db, disability=DISABILITY)
    await county.ok("POST", "/api/v1/disability/placements", 201, json={
        "student_id": exempt["id"], "placement": "exempt", "year": YEAR, "reason": "重度残疾，经评估暂缓"})  # fmt: skip
    out = await world.student("primary", disability=DISABILITY)
    await change(county, out, "drop_out", TODAY)  # on the roll, not placed
    older = world.student_body("primary", grade=6, disability=DISABILITY)
    older["id_number"] = make_id_number(birth_for("senior", 3))  # 17 or so: not school-age
    await county.ok("POST", "/api/v1/students", 201, json=older)
    await world.student("primary")  # not disabled

    got = await rates(county)
    assert got["disabled_enrollment"] == {"numerator": 2, "denominator": 4, "rate": 0.5, "home_teaching": 1}
    figure = await county.ok("GET", "/api/v1/stats/disability", params={"year": YEAR})
    assert (figure["school_age_disabled"], figure["placed"], figure["home_teaching"]) == (4, 2, 1)
    assert figure["children"] == 1 and figure["by_placement"] == {"exempt": 1}


async def test_coverage_and_notices_and_a_locked_year(world: World, db):
    county, school = world.users["county"], world.users["school"]
    policy = await make_policy(county, boarding_only=False)  # orphans and poor children of primary
    paid = [await add_student(world, boarding=False) for _ in range(2)]
    unpaid = await add_student(world, "other_primary", boarding=False)  # eligible, no batch of its school
    ineligible = await add_student(world, groups=[], boarding=False)  # no aid category
    await world_projected(db, world, *paid, unpaid, ineligible)
    batch = await make_batch(county, world, policy, semester=CURRENT)
    assert {line["student_id"] for line in batch["lines"]} == {s["id"] for s in paid}
    await approve_and_pay(world, batch)

    cov = await county.ok("GET", "/api/v1/stats/coverage", params={"semester": CURRENT})
    assert (cov["eligible"], cov["paid"], cov["unpaid"], cov["coverage"]) == (3, 2, 1, round(2 / 3, 4))

    async def ack(student: dict) -> None:
        await school.ok("POST", f"/api/v1/subsidy/notices/{student['id']}/acknowledge",
                        201, params={"semester": CURRENT})  # fmt: skip

    async def notices() -> dict:
        got = await rates(county)
        return got if got["notice_acknowledged"]["numerator"] == 1 else None

    await ack(paid[0])
    got = await eventually(notices, timeout=15, interval=0.2)  # acknowledgements are not barrier-tracked
    assert got["notice_acknowledged"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert got["coverage"] == {"numerator": 2, "denominator": 3, "rate": round(2 / 3, 4)}

    await county.ok("POST", "/api/v1/stats/locks", 201, json={"year": YEAR})
    await ack(paid[1])
    await change(county, ineligible, "drop_out", TODAY)

    async def applied():
        n = await db.fetchval(
            "SELECT count(*) FROM statistics.notice_fact WHERE student_id = ANY($1::uuid[])",
            [s["id"] for s in paid],
        )
        return n == 2

    await eventually(applied, timeout=15, interval=0.2)
    after = await rates(county)
    assert after["locked"] is True
    frozen = {k: v for k, v in after.items() if k not in ("locked", "as_of")}
    assert frozen == {k: v for k, v in got.items() if k != "as_of"}
    # A breakdown by township is frozen too (each township's snapshot): the paid children's township.
    town = (await rates(county, group_by="township"))["groups"][world.townships[0]]
    assert town["locked"] is True and town["notice_acknowledged"] == got["notice_acknowledged"]
