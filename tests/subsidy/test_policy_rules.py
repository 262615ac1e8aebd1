"""Policies with dated rules (标准), one-off items and funding shares, through the HTTP API.

One county for the module: a primary standard that changes from 2024-autumn (old amount in
2024-spring, new one after), and a junior grant with a one-off 新生 item (once per child and stage,
the ordinary standard after it). Shares are checked against a split done by hand.
"""

import pytest

from services.subsidy.policies.rules import split
from tests import conftest
from tests.helpers import World, make_id_number
from tests.subsidy.helpers import add_student, approve_and_pay, make_batch, make_policy, world_projected

URL = "/api/v1/subsidy/policies"
OLD, NEW = 62500, 62501  # the new standard is odd on purpose: its shares do not divide evenly
CHANGING = [
    {"code": "STD-2019", "from_semester": "2019-autumn", "until_semester": "2024-spring", "amount_fen": OLD,
     "shares": {"central": 0.8, "provincial": 0.1, "county": 0.1}},
    {"code": "STD-2024", "from_semester": "2024-autumn", "amount_fen": NEW,
     "shares": {"central": 5, "provincial": 3, "county": 2}},
]  # fmt: skip
ONE_OFF = [
    {"code": "NEW7", "name": "初一新生入学资助", "from_semester": "2024-autumn", "amount_fen": 100000,
     "grades": [7], "new_entrant": True, "one_off": True, "shares": {"central": 1, "county": 1}},
    {"code": "STD", "from_semester": "2024-autumn", "amount_fen": 50000},
]  # fmt: skip


@pytest.fixture(scope="module")
async def county(api, stack) -> World:
    return await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)


def lines_by_student(batch: dict) -> dict[str, dict]:
    return {line["student_id"]: line for line in batch["lines"]}


async def test_amount_changes_from_an_autumn_and_shares_sum_exactly(county: World, db):
    w = county
    policy = await make_policy(w.users["county"], stages=["primary"], categories=["orphan"],
                               boarding_only=False, amount_fen=None, years=None, rules=CHANGING)  # fmt: skip
    assert [r["code"] for r in policy["rules"]] == ["STD-2019", "STD-2024"]
    assert policy["amount_fen"] == NEW and 2019 in policy["years"] and 2026 in policy["years"]
    kids = [await add_student(w, groups=["orphan"]) for _ in range(2)]
    await world_projected(db, w, *kids)

    spring = await make_batch(w.users["school"], w, policy, semester="2024-spring")
    autumn = await make_batch(w.users["school"], w, policy, semester="2024-autumn")
    for batch, amount, item in ((spring, OLD, "STD-2019"), (autumn, NEW, "STD-2024")):
        lines = lines_by_student(batch)
        assert set(lines) == {k["id"] for k in kids}, batch["excluded"]
        for line in lines.values():
            assert line["amount_fen"] == amount and line["item"] == item and line["one_off"] is False
            assert sum(line["shares"].values()) == line["amount_fen"]
        assert batch["total_fen"] == 2 * amount
        assert sum(batch["shares_fen"].values()) == batch["total_fen"]
    # 62501 × 5/3/2: 31250.5, 18750.3, 12500.2 — the fen left over goes to the largest fraction.
    assert lines_by_student(autumn)[kids[0]["id"]]["shares"] == {"central": 31251, "provincial": 18750,
                                                                 "county": 12500}  # fmt: skip
    assert split(NEW, {"central": 5, "provincial": 3, "county": 2}) == {"central": 31251, "provincial": 18750,
                                                                        "county": 12500}  # fmt: skip
    # The disbursement reads and the paid events carry item and shares.
    await approve_and_pay(w, autumn)
    rows = (await w.users["county"].ok("GET", "/api/v1/subsidy/disbursements",
                                       params={"batch_id": autumn["id"]}))["items"]  # fmt: skip
    assert {r["item"] for r in rows} == {"STD-2024"} and all(sum(r["shares"].values()) == NEW for r in rows)
    paid = await db.fetch(
        "SELECT payload FROM subsidy.outbox WHERE type = 'edu.subsidy.disbursement.paid' "
        "AND payload->'data'->>'batch_id' = $1",
        autumn["id"],
    )
    import json

    data = [json.loads(p["payload"])["data"] for p in paid]
    assert len(data) == 2 and all(d["item"] == "STD-2024" and sum(d["shares"].values()) == NEW for d in data)


async def test_one_off_item_is_paid_once_per_stage(county: World, db):
    w = county
    policy = await make_policy(w.users["county"], kind="grant", stages=["junior"], categories=[],
                               boarding_only=False, amount_fen=None, years=None, rules=ONE_OFF)  # fmt: skip
    entrant = await add_student(w, "junior", stage="junior", grade=7, groups=[],
                                id_number=make_id_number(__import__("datetime").date(2012, 5, 1)))  # fmt: skip
    second_year = await add_student(w, "junior", stage="junior", grade=2, groups=[])  # read as grade 8
    await world_projected(db, w, entrant, second_year)

    first = await make_batch(w.users["county"], w, policy, semester="2024-autumn", school="junior")
    lines = lines_by_student(first)
    assert lines[entrant["id"]]["item"] == "NEW7" and lines[entrant["id"]]["one_off"] is True
    assert lines[entrant["id"]]["amount_fen"] == 100000
    assert lines[entrant["id"]]["shares"] == {"central": 50000, "county": 50000}
    assert lines[second_year["id"]]["item"] == "STD" and lines[second_year["id"]]["amount_fen"] == 50000

    # The next semester's batch: the child is still in grade 7, but the one-off item was given.
    again = await make_batch(w.users["county"], w, policy, semester="2025-spring", school="junior")
    line = lines_by_student(again)[entrant["id"]]
    assert line["item"] == "STD" and line["amount_fen"] == 50000 and line["one_off"] is False


async def test_flat_policies_still_work_and_rules_are_validated(county: World):
    county_user = county.users["county"]
    flat = await make_policy(county_user, years=[2021, 2022, 2024])
    assert [(r["from_semester"], r["until_semester"]) for r in flat["rules"]] == [
        ("2021-spring", "2022-autumn"),
        ("2024-spring", "2024-autumn"),
    ]
    assert flat["years"] == [2021, 2022, 2024] and flat["amount_fen"] == 62500
    changed = await county_user.ok("PATCH", f"{URL}/{flat['code']}", json={"amount_fen": 70000, "version": 1})
    assert changed["amount_fen"] == 70000 and changed["years"] == [2021, 2022, 2024]
    ruled = await make_policy(county_user, amount_fen=None, years=None, rules=ONE_OFF)
    resp = await county_user.patch(f"{URL}/{ruled['code']}", json={"amount_fen": 1, "version": 1})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "amount_fen"
    for bad in (
        [{**CHANGING[0], "until_semester": "2018-autumn"}],
        [{**CHANGING[0], "shares": {"central": 0, "county": 0}}],
        [{**CHANGING[0], "grades": [13]}],
        [CHANGING[0], CHANGING[0]],
    ):
        resp = await county_user.post(URL, json={**_body(), "rules": bad})
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["loc"][0] == "rules", resp.text


def _body() -> dict:
    from tests.subsidy.helpers import policy_body

    body = policy_body()
    body.pop("amount_fen"), body.pop("years")
    return body
