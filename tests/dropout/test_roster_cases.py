"""A platform roster child on no roll gets a dropout case, and the case follows it into the registry.

比对 → 控辍 (issue 11, item 3): the roster names a school-age child of a registered-poor household
whom the registry does not know; statistics finds it `not_in_school` and the dropout service opens
a case (source `verification`) on a stand-in of the child that carries what the roster says. The
village cadre of the household's village, the township and the county see it (in their cases and
their tasks); another village's cadre does not. When the registry then registers the child with
the same ID number, the case (with its actions) is the registry student's.
"""

import json
import uuid
from datetime import UTC, date, datetime

from services.contracts import calendar
from services.dropout.students.models import Student
from services.dropout.students.unregistered import NOT_REGISTERED, row_of, stand_in, stand_in_id
from services.kit.crypto import mask_id_number
from tests.dropout.helpers import CASES
from tests.helpers import Api, World, eventually, make_id_number

SEMESTER = str(calendar.current_semester())
SCHOOL_YEAR = calendar.Semester.parse(SEMESTER).school_year
NAME = "周小河"


def test_a_stand_in_is_a_full_row_without_the_id_number():
    child = stand_in(
        id_number_hash="ab" * 32, name="周小河" * 20, id_number_masked="610928********1234",
        birth_date=date(2016, 3, 15), area_code="610928100201", household_platform_id="P1",
    )  # fmt: skip
    row = row_of(child)
    required = [c.name for c in Student.__table__.columns if not c.nullable]
    assert all(row[c] is not None for c in required), {c: row[c] for c in required}
    assert row["groups"] == [] and row["categories"] == [] and row["status"] == NOT_REGISTERED
    assert row["id"] == stand_in_id("ab" * 32) and len(row["name"]) == 50
    assert row["village_code"] == "610928100201" and row["updated_at"].tzinfo is not None
    county_only = stand_in(id_number_hash="cd" * 32, name="x", id_number_masked=None, birth_date=None,
                           area_code="610928", household_platform_id=None)  # fmt: skip
    assert row_of(county_only)["village_code"] is None and row_of(county_only)["area_code"] == "610928"


async def _poor_household(world: World, village: str) -> dict:
    body = {
        "head_name": "周大山",
        "area_code": village,
        "platform_id": f"P{world.code}{uuid.uuid4().hex[:8]}",
        "statuses": [{"kind": "registered_poor", "since": "2016-06-01"}],
    }
    return await world.admin.ok("POST", "/api/v1/households", 201, json=body)


async def _roster(county: Api, rows: list[dict]) -> dict:
    job = await county.ok("POST", "/api/v1/verifications", 202, json={"semester": SEMESTER, "rows": rows})

    async def finished():
        got = await county.ok("GET", f"/api/v1/verifications/{job['id']}")
        return got if got["status"] in ("done", "failed") else None

    assert (await eventually(finished, timeout=60, interval=0.2))["status"] == "done"
    return job


async def _cases(api: Api, **params) -> list[dict]:
    return (await api.ok("GET", CASES, params={"source": "verification", **params}))["items"]


async def _tasks(api: Api, case_id: str) -> list[dict]:
    """The caller's tasks of a case, through the gateway (which merges dropout and subsidy)."""
    return (await api.ok("GET", "/api/v1/tasks", params={"case_id": case_id}))["items"]


async def test_roster_child_on_no_roll_gets_a_case_that_follows_it_into_the_registry(world: World, db):
    village, other_village = world.villages[0], world.villages[1]
    hh = await _poor_household(world, village)
    id_number = make_id_number(date(SCHOOL_YEAR - 10, 3, 15))
    row = {"household_platform_id": hh["platform_id"], "name": NAME, "id_number": id_number,
           "statuses": ["registered_poor"]}  # fmt: skip
    county, township = world.users["county"], world.users["township"]
    # The roster places the child in the household's village as statistics knows it (its projection).
    known = "SELECT area_code FROM statistics.household_fact WHERE platform_id = $1"
    await eventually(lambda: db.fetchval(known, hh["platform_id"]), timeout=15)
    job = await _roster(county, [row])
    found = (await county.ok("GET", f"/api/v1/verifications/{job['id']}/findings",
                             params={"kind": "not_in_school"}))["items"]  # fmt: skip
    assert len(found) == 1 and found[0]["student_id"] is None

    case = (await eventually(lambda: _cases(county, area_code=world.code), timeout=30))[0]
    assert case["source"] == "verification" and case["status"] == "open"
    assert (case["student_name"], case["student_registered"]) == (NAME, False)
    assert case["id_number_masked"] == mask_id_number(id_number)
    assert (case["household_platform_id"], case["village_code"]) == (hh["platform_id"], village)
    assert case["opened_on"] == calendar.today().isoformat()

    cadre = await world.user("village", village)
    other_cadre = await world.user("village", other_village)
    for who in (township, cadre):
        assert [c["id"] for c in await _cases(who)] == [case["id"]]
    assert await _cases(other_cadre) == []
    assert (await other_cadre.get(f"{CASES}/{case['id']}")).status_code == 404
    for who, kind in ((county, "review_case"), (township, "review_case"), (cadre, "home_visit")):
        assert [t["kind"] for t in await _tasks(who, case["id"])] == [kind], who.username
    assert await _tasks(other_cadre, case["id"]) == []
    for who in (county, township, cadre):
        text = json.dumps(await who.ok("GET", f"{CASES}/{case['id']}"), ensure_ascii=False)
        assert id_number not in text and id_number[6:14] not in text

    at = datetime.now(UTC).isoformat()
    await cadre.ok("POST", f"{CASES}/{case['id']}/actions", 201,
                   json={"kind": "home_visit", "occurred_at": at, "outcome": "reached", "note": "家访"})  # fmt: skip

    # The registry registers the child (the school that took it in): the case is now the student's.
    body = world.student_body("primary", stage="primary", grade=4, name=NAME, id_number=id_number,
                              household_id=hh["id"])  # fmt: skip
    student = await world.admin.ok("POST", "/api/v1/students", 201, json=body)

    async def linked():
        items = (await county.ok("GET", CASES, params={"student_id": student["id"]}))["items"]
        return items[0] if items else None

    moved = await eventually(linked, timeout=30)
    assert moved["id"] == case["id"] and moved["student_registered"] is True
    assert moved["school_code"] == world.schools["primary"]["code"] and moved["village_code"] == village
    assert moved["household_platform_id"] == hh["platform_id"]
    assert moved["id_number_masked"] == mask_id_number(id_number)
    assert [(a["kind"], a["actor"]) for a in moved["actions"]] == [("home_visit", cadre.username)]
    assert moved["version"] > case["version"] and moved["opened_on"] == case["opened_on"]
    assert (await county.ok("GET", CASES, params={"student_id": case["student_id"]}))["items"] == []
    assert await db.fetchval("SELECT count(*) FROM dropout.student WHERE id = $1",
                             uuid.UUID(case["student_id"])) == 0  # fmt: skip
    # The school that has the child now sees the case and is asked to confirm it; the others still see it.
    school = world.users["school"]
    at_school = (await school.ok("GET", CASES, params={"student_id": student["id"]}))["items"]
    assert [c["id"] for c in at_school] == [case["id"]]
    assert [t["kind"] for t in await _tasks(school, case["id"])] == ["review_case"]
    assert [c["id"] for c in await _cases(cadre)] == [case["id"]]
    assert [t["student_id"] for t in await _tasks(township, case["id"])] == [student["id"]]
    assert await db.fetchval("SELECT count(*) FROM dropout.dead_letter") == 0
