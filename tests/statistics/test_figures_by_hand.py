"""A small county built through the public API; every figure checked against hand-computed numbers.

Households: A (dibao, village 0) with two primary boarders; B (no status, village 1) with an orphan
primary boarder. Policies: a living allowance (62,500 fen) and a grant (10,001 fen) for those three,
both paid in the past semester; a scholarship batch generated but never paid (not counted).
"""


from services.contracts.calendar import today as local_today
from tests.dropout.helpers import student as dropout_student
from tests.helpers import Api, World, eventually
from tests.subsidy.helpers import (
    PAST,
    PAST_YEAR,
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    world_projected,
)


async def _settled(api: Api, path: str, check, timeout: float = 15, **params) -> dict:
    async def probe():
        got = await api.ok("GET", path, params=params)
        return got if check(got) else None

    return await eventually(probe, timeout=timeout, interval=0.2)


def _all_of(expected: dict):
    """A settle check that waits for every named figure: each comes from its own event."""
    return lambda got: all(got.get(k) == v for k, v in expected.items())


async def _household(world: World, village: int, statuses: list) -> dict:
    return await world.users["county"].ok(
        "POST",
        "/api/v1/households",
        201,
        json={"head_name": "户主", "area_code": world.villages[village], "statuses": statuses},
    )


async def _county_with_payments(world: World, db) -> dict:
    a = await _household(world, 0, [{"kind": "dibao", "since": "2020-01-01"}])
    b = await _household(world, 1, [])
    kids = [await add_student(world, groups=[], household_id=a["id"]) for _ in range(2)]
    kids.append(await add_student(world, groups=["orphan"], household_id=b["id"]))
    junior = await add_student(world, "junior", stage="junior", grade=1, groups=["orphan"])
    await world_projected(db, world, *kids, junior)
    living = await make_policy(world.users["county"])
    grant = await make_policy(
        world.users["county"], kind="grant", amount_fen=10001, boarding_only=False, name="测试助学金"
    )
    unpaid_policy = await make_policy(
        world.users["county"], kind="scholarship", amount_fen=50000, boarding_only=False, name="测试奖学金"
    )
    for policy in (living, grant):
        batch = await make_batch(world.users["county"], world, policy)
        assert len(batch["lines"]) == 3
        await approve_and_pay(world, batch)
    unpaid = await make_batch(world.users["county"], world, unpaid_policy)
    return {"kids": kids, "junior": junior, "unpaid": unpaid}


async def test_subsidy_figures_distinct_and_exact(world: World, db):
    await _county_with_payments(world, db)
    county = world.users["county"]
    got = await _settled(county, "/api/v1/stats/subsidy", lambda g: g["person_times"] == 6, semester=PAST)
    assert (got["students"], got["households"], got["person_times"], got["amount_fen"]) == (3, 2, 6, 217503)
    primary = got["by_stage"]["primary"]
    assert (primary["students"], primary["person_times"], primary["amount_fen"]) == (3, 6, 217503)
    assert primary["by_category"] == {
        "dibao": {"students": 2, "person_times": 4, "amount_fen": 2 * (62500 + 10001)},
        "orphan": {"students": 1, "person_times": 2, "amount_fen": 62500 + 10001},
    }
    assert got["by_semester"] == {PAST: {"students": 3, "person_times": 6, "amount_fen": 217503}}
    assert got["by_policy_kind"] == {
        "grant": {"students": 3, "person_times": 3, "amount_fen": 30003},
        "living_allowance": {"students": 3, "person_times": 3, "amount_fen": 187500},
    }
    assert "scholarship" not in got["by_policy_kind"]  # generated, never paid
    by_year = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": PAST_YEAR})
    assert by_year["amount_fen"] == 217503
    other_year = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": PAST_YEAR - 3})
    assert other_year["person_times"] == 0 and other_year["amount_fen"] == 0
    # Scope: the village cadre sees household A's two children only.
    village = await world.users["village"].ok("GET", "/api/v1/stats/subsidy", params={"semester": PAST})
    assert (village["students"], village["households"], village["person_times"], village["amount_fen"]) == (
        2,
        1,
        4,
        145002,
    )
    school = await world.users["school"].ok("GET", "/api/v1/stats/subsidy", params={"semester": PAST})
    assert school["amount_fen"] == 217503
    other = await world.users["township"].get(
        "/api/v1/stats/subsidy", params={"area_code": world.townships[1]}
    )
    assert other.status_code == 404


async def test_lock_holds_against_later_events(world: World, db, api: Api):
    made = await _county_with_payments(world, db)
    county = world.users["county"]
    before = await _settled(county, "/api/v1/stats/subsidy", lambda g: g["person_times"] == 6, semester=PAST)
    lock = await county.ok("POST", "/api/v1/stats/locks", 201, json={"year": PAST_YEAR})
    assert lock["snapshots"] > 0
    assert (await county.post("/api/v1/stats/locks", json={"year": PAST_YEAR})).status_code == 409
    assert (
        await world.users["township"].post("/api/v1/stats/locks", json={"year": PAST_YEAR})
    ).status_code == 403
    # The unpaid junior batch is paid after the lock: its event is held, the figures do not move.
    await approve_and_pay(world, made["unpaid"])

    async def held():
        page = await county.ok("GET", f"/api/v1/stats/locks/{PAST_YEAR}/held")
        return page["items"] if page["items"] else None

    items = await eventually(held, timeout=15, interval=0.2)
    assert {i["type"] for i in items} == {"edu.subsidy.disbursement.paid"}
    after = await county.ok("GET", "/api/v1/stats/subsidy", params={"semester": PAST})
    assert after["locked"] is True
    # The figures stand still; `as_of` moves on (the late payment's events were applied: held).
    same = {k: v for k, v in after.items() if k not in ("locked", "as_of")}
    assert same == {k: v for k, v in before.items() if k != "as_of"}
    year = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": PAST_YEAR})
    assert year["person_times"] == 6 and year["locked"] is True
    # A rebuild replays everything and still holds the late payment aside.
    await api.ok("POST", "/api/v1/stats/rebuild", 202)

    async def caught_up():
        resp = await api.get("/api/v1/stats/rebuild")
        return resp.status_code == 200 and resp.json()["pending"] == 0 and resp.json()["unacknowledged"] == 0

    await eventually(caught_up, timeout=60, interval=0.3)
    again = await county.ok("GET", "/api/v1/stats/subsidy", params={"semester": PAST})
    assert again["person_times"] == 6


async def test_dropout_disability_and_check_figures(world: World, db):
    county, school = world.users["county"], world.users["school"]
    year = local_today().year
    kids = [
        await dropout_student(
            world, db, village=world.villages[0], disability={"category": "physical", "grade": 2}
        )
        for _ in range(4)
    ]
    c1 = await county.ok(
        "POST", "/api/v1/dropout/cases", 201, json={"student_id": kids[0]["id"], "reason_group": "poverty"}
    )
    await county.ok(
        "POST", "/api/v1/dropout/cases", 201, json={"student_id": kids[1]["id"], "reason_group": "weariness"}
    )
    await county.ok(
        "POST",
        f"/api/v1/dropout/cases/{c1['id']}/actions",
        201,
        json={"kind": "close", "outcome": "moved_away", "note": "随父母外出"},
    )
    await county.ok(
        "POST",
        f"/api/v1/students/{kids[2]['id']}/enrollment-changes",
        201,
        json={"kind": "drop_out", "effective_date": local_today().isoformat(), "reason": "外出务工"},
    )
    settled = _all_of({"cases_opened": 3, "dropped_out": 1})
    got = await _settled(county, "/api/v1/stats/dropout", settled, year=year)
    assert (got["open"], got["returned"], got["returned_pending"], got["dropped_out"]) == (2, 0, 0, 1)
    assert got["by_reason_group"] == {"poverty": 1, "weariness": 1, "unknown": 1}

    for kid, placement, reason in (
        (kids[0], "special_school", None),
        (kids[1], "home_teaching", None),
        (kids[3], "exempt", "重度残疾，经评估暂缓"),
    ):
        await county.ok(
            "POST",
            "/api/v1/disability/placements",
            201,
            json={
                "student_id": kid["id"],
                "placement": placement,
                "year": year,
                **({"reason": reason} if reason else {}),
            },
        )
    dis = await _settled(county, "/api/v1/stats/disability", lambda g: g["children"] == 3, year=year)
    assert dis["by_placement"] == {"special_school": 1, "home_teaching": 1, "exempt": 1}
    # Issue 14: the rate counts every school-age disabled child on the roll (the dropped-out one too),
    # not only those with a placement record: 2 placed (one 送教上门) of 4.
    assert (dis["school_age_disabled"], dis["placed"], dis["home_teaching"]) == (4, 2, 1)
    assert dis["enrollment_rate"] == 0.5

    semester = f"{year}-autumn"
    check = await school.ok(
        "POST",
        "/api/v1/dropout/verifications",
        201,
        json={"school_code": world.schools["primary"]["code"], "semester": semester},
    )
    expected = check["summary"]["expected"]
    assert expected == len(check["items"]) >= 3
    present = [k for k in kids if k["id"] != kids[2]["id"]]
    await school.ok(
        "POST",
        f"/api/v1/dropout/verifications/{check['id']}/results",
        json=[
            {"student_id": present[0]["id"], "arrived": True},
            {"student_id": present[1]["id"], "arrived": True},
            {"student_id": present[2]["id"], "arrived": False, "reason": "illness"},
        ],
    )
    settled = _all_of({"arrived": 2, "not_arrived": 1})
    ver = await _settled(county, "/api/v1/stats/verification", settled, semester=semester)
    assert (ver["expected"], ver["arrived"], ver["not_arrived"], ver["by_reason"]) == (
        expected,
        2,
        1,
        {"illness": 1},
    )
