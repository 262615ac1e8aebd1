"""Hardship identification (家庭经济困难学生认定) through the HTTP API, and its level as an eligibility input.

One county for the module. A policy for registered-poor children admits an approved hardship level
too (`min_hardship_level`), and pays more from `hard` up (a rule's `min_hardship_level`): a child
with no poverty category but a county-approved level is paid; one approved only by the township
(the county has not) is not.
"""

import pytest

from services.contracts.calendar import Semester
from tests import conftest
from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    POSTED,
    add_student,
    events,
    make_batch,
    make_policy,
    world_projected,
)

URL = "/api/v1/subsidy/hardship"
YEAR = Semester.parse(CURRENT).school_year
RULES = [
    {"code": "HARD", "from_semester": "2019-autumn", "amount_fen": 75000, "min_hardship_level": "hard"},
    {"code": "STD", "from_semester": "2019-autumn", "amount_fen": 50000},
]


@pytest.fixture(scope="module")
async def county(api, stack) -> World:
    return await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)


async def propose(w: World, student: dict, level: str = "especially_hard") -> dict:
    body = {
        "student_id": student["id"],
        "school_year": YEAR,
        "level": level,
        "reason": "父亲重病，家庭无稳定收入",
    }
    return await w.users["school"].ok("POST", URL, 201, json=body)


async def step(api, row: dict, action: str, status: int = 200, **body) -> dict:
    return await api.ok("POST", f"{URL}/{row['id']}/{action}", status, json=body or None)


async def test_county_approved_level_makes_a_child_eligible(county: World, db):
    w = county
    approved, township_only, nothing = [await add_student(w, groups=[], boarding=False) for _ in range(3)]
    await world_projected(db, w, approved, township_only, nothing)
    a = await propose(w, approved)
    assert a["status"] == "proposed" and a["level_name"] == "特别困难"
    b = await propose(w, township_only, "general")
    for row in (a, b):
        row = await step(w.users["school"], row, "submit", publicity_start=POSTED)
        assert row["status"] == "submitted" and row["awaiting"] == "township"
        row = await step(w.users["township"], row, "approve")
        assert row["awaiting"] == "county"
    # The county may not approve what the township has not; once it has, the county's approval counts.
    a = await step(w.users["county"], a, "approve")
    assert a["status"] == "approved" and [s["action"] for s in a["steps"]] == [
        "proposed", "submitted", "approved", "approved"]  # fmt: skip
    assert (await w.users["school"].post(f"{URL}/{a['id']}/approve")).status_code == 403
    assert (await w.users["school"].post(URL, json={"student_id": approved["id"], "school_year": YEAR,
                                                     "level": "hard", "reason": "x"})).status_code == 409  # fmt: skip

    policy = await make_policy(w.users["county"], stages=["primary"], categories=["registered_poor"],
                               boarding_only=False, amount_fen=None, years=None, rules=RULES,
                               min_hardship_level="general")  # fmt: skip
    batch = await make_batch(w.users["school"], w, policy, semester=CURRENT)
    lines = {line["student_id"]: line for line in batch["lines"]}
    excluded = {e["student_id"]: e["reason"] for e in batch["excluded"]}
    assert set(lines) == {approved["id"]}
    line = lines[approved["id"]]
    assert (
        line["hardship_level"] == "especially_hard" and line["item"] == "HARD" and line["amount_fen"] == 75000
    )
    assert excluded[township_only["id"]] == "category" and excluded[nothing["id"]] == "category"

    kinds = [e["type"] for e in await events(db, "edu.subsidy.hardship.approved", a["id"])]
    assert kinds == ["edu.subsidy.hardship.approved"]
    assert await events(db, "edu.subsidy.hardship.endorsed", b["id"])
    assert not await events(db, "edu.subsidy.hardship.approved", b["id"])


async def test_list_reject_resubmit_revoke(county: World, db):
    w = county
    child = await add_student(w, groups=[], boarding=False)
    await world_projected(db, w, child)
    row = await propose(w, child, "hard")
    row = await step(w.users["school"], row, "submit", publicity_start=POSTED)
    assert (
        await w.users["village"].post(f"{URL}/{row['id']}/reject", json={"reason": "x"})
    ).status_code == 403
    row = await step(w.users["township"], row, "reject", reason="收入核实不符")
    assert row["status"] == "rejected" and row["decided_note"] == "收入核实不符"
    row = await step(w.users["school"], row, "submit", publicity_start=POSTED, level="general")
    assert row["status"] == "submitted" and row["level"] == "general"
    row = await step(w.users["township"], row, "approve")
    row = await step(w.users["county"], row, "approve")
    row = await step(w.users["county"], row, "revoke", reason="家庭经济状况好转", version=row["version"])
    assert row["status"] == "revoked"
    page = await w.users["county"].ok("GET", URL, params={"student_id": child["id"], "status": "revoked"})
    assert [r["id"] for r in page["items"]] == [row["id"]]
    assert (await w.users["county"].ok("GET", URL, params={"student_id": child["id"], "status": "approved"}))[
        "items"] == []  # fmt: skip
    revoked = await events(db, "edu.subsidy.hardship.revoked", row["id"])
    assert revoked[0]["data"]["status"] == "revoked" and revoked[0]["data"]["school_year"] == YEAR
