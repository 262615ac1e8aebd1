"""Outside rosters (联控联保): a public-security or 残联 roster compared with our rolls.

A school-age child on the public-security roster whom no school has (the registry does not know
it) gets a case (source `outside_roster`) on a stand-in placed in the row's village: the cadre of
that village, the township and the county see it, another village's cadre does not. A student on
our roll whom the roster lacks is listed; a 残联 child with no placement this year is listed. A
second roster of the same area and source is version 2 and supersedes the first; the active case
is not opened twice. ID numbers never come back unmasked.
"""

import json
from datetime import date

from services.contracts import calendar
from services.kit.crypto import mask_id_number
from tests.dropout.helpers import CASES, household, projected
from tests.helpers import Api, World, birth_for, eventually, make_id_number

ROSTERS = "/api/v1/dropout/rosters"


def _csv(rows: list[tuple[str, str, str]], header: str = "姓名,身份证号,村代码") -> bytes:
    return ("\n".join([header, *(",".join(r) for r in rows)]) + "\n").encode()


async def _submit(api: Api, body: bytes, *, source: str = "public_security", area: str | None = None,
                  status: int = 202, name: str = "roster.csv") -> dict:  # fmt: skip
    data = {"source": source, "as_of": calendar.today().isoformat()}
    if area:
        data["area_code"] = area
    resp = await api.post(ROSTERS, data=data, files={"file": (name, body, "text/csv")})
    assert resp.status_code == status, resp.text
    return resp.json()


async def _done(api: Api, roster_id: str) -> dict:
    async def finished():
        got = await api.ok("GET", f"{ROSTERS}/{roster_id}")
        return got if got["status"] in ("done", "failed") else None

    got = await eventually(finished, timeout=60, interval=0.2)
    assert got["status"] == "done", got
    return got


async def _findings(api: Api, roster_id: str, kind: str) -> list[dict]:
    return (await api.ok("GET", f"{ROSTERS}/{roster_id}/findings", params={"kind": kind}))["items"]


async def test_a_public_security_roster_child_on_no_roll_opens_a_case(world: World, db):
    village, other_village = world.villages[0], world.villages[1]
    county, township = world.users["county"], world.users["township"]
    hh = await household(world, village)
    on_roll = await world.student("primary", household_id=hh["id"])
    not_listed = await world.student("primary", household_id=hh["id"])
    for s in (on_roll, not_listed):
        await projected(db, s["id"])
    roll_id = await db.fetchval("SELECT id_number_hash FROM dropout.student WHERE id = $1::uuid", on_roll["id"])
    assert roll_id, "the projection carries the registry's ID number hash"
    unknown = make_id_number(birth_for("primary", 3))
    too_old = make_id_number(date(calendar.today().year - 30, 5, 1))
    on_roll_number = (await county.ok("GET", f"/api/v1/students/{on_roll['id']}",
                                           params={"reveal": "id_number"}))["id_number"]  # fmt: skip
    rows = [("周小河", unknown, village), (on_roll["name"], on_roll_number, village),
            ("王大成", too_old, village), ("坏行", "123", village)]  # fmt: skip
    roster = await _submit(county, _csv(rows))
    assert (roster["roster_version"], roster["source"], roster["area_code"]) == (1, "public_security", world.code)
    roster = await _done(county, roster["id"])
    assert roster["total"] == 4 and roster["compared"] == 2 and roster["error_count"] == 1, roster["errors"]
    assert roster["errors"][0]["row"] == 5 and roster["errors"][0]["field"] == "id_number"
    assert roster["summary"]["no_roll"] == 1 and roster["summary"]["cases_opened"] == 1

    no_roll = await _findings(county, roster["id"], "no_roll")
    assert len(no_roll) == 1 and no_roll[0]["student_registered"] is False
    assert no_roll[0]["id_number_masked"] == mask_id_number(unknown) and no_roll[0]["village_code"] == village
    missing = [f["student_id"] for f in await _findings(county, roster["id"], "not_on_roster")]
    assert not_listed["id"] in missing and on_roll["id"] not in missing

    cases = (await county.ok("GET", CASES, params={"source": "outside_roster", "area_code": world.code}))["items"]
    assert [c["id"] for c in cases] == [no_roll[0]["case_id"]]
    case = cases[0]
    assert (case["student_name"], case["village_code"], case["student_registered"]) == ("周小河", village, False)
    assert case["opened_on"] == calendar.today().isoformat()
    cadre, other_cadre = world.users["village"], await world.user("village", other_village)
    for who in (township, cadre):
        assert [c["id"] for c in (await who.ok("GET", CASES, params={"source": "outside_roster"}))["items"]] == [
            case["id"]
        ]
    assert (await other_cadre.get(f"{CASES}/{case['id']}")).status_code == 404
    tasks = (await cadre.ok("GET", "/api/v1/tasks", params={"case_id": case["id"]}))["items"]
    assert [t["kind"] for t in tasks] == ["home_visit"]
    for who in (county, township):
        for path in (f"{ROSTERS}/{roster['id']}", f"{ROSTERS}/{roster['id']}/findings", f"{CASES}/{case['id']}"):
            text = json.dumps(await who.ok("GET", path), ensure_ascii=False)
            assert unknown not in text and unknown[6:14] not in text and on_roll_number not in text

    # Again: version 2 supersedes version 1; the child's case is the same one, not a second.
    again = await _done(county, (await _submit(county, _csv(rows)))["id"])
    assert again["roster_version"] == 2 and again["summary"]["cases_opened"] == 0
    assert (await county.ok("GET", f"{ROSTERS}/{roster['id']}"))["superseded_at"] is not None
    assert (await _findings(county, again["id"], "no_roll"))[0]["case_id"] == case["id"]
    listed = (await township.ok("GET", ROSTERS, params={"area_code": world.code, "superseded": "false"}))["items"]
    assert [r["id"] for r in listed] == [again["id"]]


async def test_a_disabled_federation_roster_lists_children_without_placement(world: World, db):
    village = world.villages[0]
    hh = await household(world, village)
    child = await world.student("primary", household_id=hh["id"], groups=["disabled"],
                                disability={"category": "physical", "grade": 2})  # fmt: skip
    await projected(db, child["id"])
    number = (await world.users["county"].ok("GET", f"/api/v1/students/{child['id']}",
                                   params={"reveal": "id_number"}))["id_number"]  # fmt: skip
    body = _csv([(child["name"], number, "肢体", "二级")], header="姓名,公民身份号码,残疾类别,残疾等级")
    roster = await _done(world.users["county"], (await _submit(world.users["county"], body,
                                                               source="disabled_federation"))["id"])  # fmt: skip
    assert roster["summary"]["disabled_unplaced"] == 1 and roster["summary"]["no_roll"] == 0
    found = await _findings(world.users["county"], roster["id"], "disabled_unplaced")
    assert found[0]["student_id"] == child["id"]
    assert found[0]["details"]["disability"] == {"category": "physical", "grade": 2}


async def test_roster_input_is_checked(world: World):
    county, school = world.users["county"], world.users["school"]
    good = _csv([("周小河", make_id_number(birth_for("primary", 2)), world.villages[0])])
    resp = await county.post(ROSTERS, data={"source": "police", "as_of": "2026-09-01"},
                             files={"file": ("r.csv", good, "text/csv")})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "source"
    assert (await school.post(ROSTERS, data={"source": "public_security", "as_of": "2026-09-01"},
                              files={"file": ("r.csv", good, "text/csv")})).status_code == 403  # fmt: skip
    resp = await county.post(ROSTERS, data={"source": "public_security", "as_of": "2026-09-01",
                                            "area_code": "619999"}, files={"file": ("r.csv", good, "text/csv")})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "area_code"
    no_header = _csv([("x", "y", "z")], header="甲,乙,丙")
    resp = await county.post(ROSTERS, data={"source": "public_security", "as_of": "2026-09-01"},
                             files={"file": ("r.csv", no_header, "text/csv")})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "file"
    resp = await county.post(ROSTERS, data={"source": "public_security", "as_of": "2026-09-01"},
                             files={"file": ("r.pdf", b"%PDF-1.4", "application/pdf")})  # fmt: skip
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "file"
