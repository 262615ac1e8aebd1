"""Breakdowns in one call (`group_by=`), by school or by household (`basis=`), and their exports.

The county: households in each of its three villages and one child of no household; one of our
households has a child at a school of another county (counted by household, not by school).
"""

import csv
import io

from tests import conftest
from tests.helpers import Api, World
from tests.subsidy.helpers import (
    CURRENT,
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    world_projected,
)

FIGURES = ("students", "person_times", "amount_fen")


async def household(world: World, village: str, kinds: tuple = ("dibao",)) -> dict:
    statuses = [{"kind": k, "since": "2020-01-01"} for k in kinds]
    return await world.users["county"].ok(
        "POST",
        "/api/v1/households",
        201,
        json={"head_name": "户主", "area_code": village, "statuses": statuses},
    )


async def test_by_household_village_sums_to_the_county(world: World, api: Api, db):
    county = world.users["county"]
    homes = [await household(world, v) for v in world.villages]
    kids = [
        await add_student(world, "primary", groups=[], boarding=False, household_id=homes[0]["id"]),
        await add_student(world, "primary", groups=[], boarding=False, household_id=homes[1]["id"]),
        await add_student(world, "other_primary", groups=[], boarding=False, household_id=homes[2]["id"]),
        await add_student(world, "other_primary", groups=[], boarding=False, household_id=homes[2]["id"]),
        await add_student(world, "primary", boarding=False),  # an orphan of no household: no village
    ]
    # A school of another county (areas and a school only: no users needed there).
    other = f"61{9000 - next(conftest._counties):04d}"
    await api.ok("POST", "/api/v1/areas", 201, json=[
        {"code": other, "name": f"外县{other}"}, {"code": f"{other}100", "name": "外县镇"}])  # fmt: skip
    far = await world.school("21", f"{other}100", ["primary"], "外县小学")
    body = world.student_body("primary", household_id=homes[0]["id"])
    body["enrollment"]["school_code"] = far["code"]
    await api.ok("POST", "/api/v1/students", 201, json=body)  # `away`: ours by household
    await world_projected(db, world, *kids)
    policy = await make_policy(county, boarding_only=False)
    await approve_and_pay(world, await make_batch(county, world, policy, semester=CURRENT))
    # The second school is in the second township: its own school and township users approve.
    world.users["school"] = await world.user(
        "school", world.townships[1], world.schools["other_primary"]["code"]
    )
    world.users["township"] = await world.user("township", world.townships[1])
    await approve_and_pay(
        world, await make_batch(county, world, policy, semester=CURRENT, school="other_primary")
    )

    by_school = await county.ok("GET", "/api/v1/stats/enrollment")
    assert by_school["students"] == len(kids)  # the child at the other county's school is theirs
    # Students by stage and category, households by category (kids 0-3: three dibao households).
    assert by_school["by_stage_category"] == {"primary": {"by_category": {"dibao": 4, "orphan": 1}}}
    assert by_school["households_by_category"] == {"dibao": 3}
    cats = await county.ok("GET", "/api/v1/stats/enrollment", params={"group_by": "category"})
    assert {c: g["students"] for c, g in cats["groups"].items()} == {"dibao": 4, "orphan": 1, "none": 0}
    got = await county.ok(
        "GET", "/api/v1/stats/enrollment", params={"group_by": "village", "basis": "household"}
    )
    assert got["students"] == 5  # the orphan of no household is no village's; `away` is ours
    assert (got["group_by"], got["basis"]) == ("village", "household")
    per_village = {v: g["students"] for v, g in got["groups"].items()}
    assert per_village == {world.villages[0]: 2, world.villages[1]: 1, world.villages[2]: 2}
    assert sum(per_village.values()) == got["students"]
    assert got["households_by_category"] == {"dibao": 3} and got["by_category"] == {"dibao": 5}

    pay = await county.ok(
        "GET",
        "/api/v1/stats/subsidy",
        params={"semester": CURRENT, "group_by": "village", "basis": "household"},
    )
    assert pay["person_times"] == 4  # every poor child of our households paid here (not the orphan)
    for figure in FIGURES:
        assert sum(g[figure] for g in pay["groups"].values()) == pay[figure]
    # By township (by school): the two schools' townships add up to the county's figure.
    town = await county.ok(
        "GET", "/api/v1/stats/subsidy", params={"semester": CURRENT, "group_by": "township"}
    )
    assert set(town["groups"]) == {world.townships[0], world.townships[1]}
    for figure in FIGURES:
        assert sum(g[figure] for g in town["groups"].values()) == town[figure]
    assert town["person_times"] == 5
    # Rates break down too, and the village cadre's figure is its village's group.
    rates = await county.ok(
        "GET", "/api/v1/stats/rates", params={"group_by": "village", "basis": "household"}
    )
    monitoring = [g["consolidation_monitoring"]["denominator"] for g in rates["groups"].values()]
    assert sum(monitoring) == rates["consolidation_monitoring"]["denominator"] == 5
    mine = await world.users["village"].ok("GET", "/api/v1/stats/enrollment")
    assert mine["students"] == per_village[world.villages[0]]

    resp = await county.get(
        "/api/v1/stats/enrollment", params={"group_by": "village", "basis": "household", "format": "csv"}
    )
    assert resp.status_code == 200, resp.text
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert ["分组", f"{world.villages[2]}", "2"] in [r[:3] for r in rows]


async def test_breakdowns_refused_where_they_cannot_be_made(world: World):
    county = world.users["county"]
    resp = await county.get("/api/v1/stats/verification", params={"group_by": "category"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["group_by"]
    resp = await county.get("/api/v1/stats/subsidy", params={"group_by": "province"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["group_by"]
    resp = await county.get("/api/v1/stats/subsidy", params={"basis": "home"})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["basis"]
    by_stage = await county.ok("GET", "/api/v1/stats/enrollment", params={"group_by": "stage"})
    assert by_stage["groups"] == {}
