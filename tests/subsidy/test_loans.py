"""Student loans (国家助学贷款 / 生源地信用助学贷款) and the one-off entry grant (新生入学资助)."""

from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    PAST,
    add_student,
    approve_and_pay,
    events,
    make_batch,
    make_policy,
    world_projected,
)

URL = "/api/v1/subsidy/loans"


def loan(student: dict, **over) -> dict:
    return {
        "student_id": student["id"],
        "loan_kind": "origin_credit",
        "year": 2026,
        "amount_fen": 1600000,
        "lender": "国家开发银行",
        "contract_number": f"GK2026-{student['id'][:8]}",
        **over,
    }


class TestLoans:
    async def test_record_list_change_and_events(self, world: World, db):
        u = world.users
        s = await add_student(world)
        await world_projected(db, world, s)
        got = await u["county"].ok("POST", URL, 201, json=loan(s))
        assert got["loan_kind_text"] == "生源地信用助学贷款" and got["repayment_status"] == "in_school"
        assert got["school_code"] == world.schools["primary"]["code"]
        (event,) = await events(db, "edu.subsidy.loan.recorded", got["id"])
        assert event["data"]["amount_fen"] == 1600000 and event["data"]["lender"] == "国家开发银行"
        assert (await u["county"].post(URL, json=loan(s))).status_code == 409  # the same contract again
        page = await u["school"].ok("GET", URL, params={"student_id": s["id"]})
        assert [x["id"] for x in page["items"]] == [got["id"]]
        body = {"version": 1, "repayment_status": "repaying"}
        changed = await u["county"].ok("PATCH", f"{URL}/{got['id']}", json=body)
        assert changed["repayment_status"] == "repaying" and changed["repayment_status_text"] == "还款中"
        assert await events(db, "edu.subsidy.loan.updated", got["id"])

    async def test_bad_input_and_roles(self, world: World, db):
        u = world.users
        s = await add_student(world)
        await world_projected(db, world, s)
        bad = (
            ({"loan_kind": "payday"}, "loan_kind"),
            ({"amount_fen": -1}, "amount_fen"),
            ({"year": 1999}, "year"),
            ({"contract_number": "含 空格"}, "contract_number"),
        )
        for over, field in bad:
            resp = await u["county"].post(URL, json=loan(s, **over))
            assert resp.status_code == 422 and field in resp.text, resp.text
        assert (await u["township"].post(URL, json=loan(s))).status_code == 403


class TestEntryGrant:
    async def test_paid_once_per_student_and_stage(self, world: World, db):
        u = world.users
        s = await add_student(world, groups=[])
        await world_projected(db, world, s)
        policy = await make_policy(
            u["county"], kind="entry_grant", categories=[], boarding_only=False, amount_fen=50000
        )
        first = await make_batch(u["school"], world, policy, semester=PAST)
        assert s["id"] in {x["student_id"] for x in first["lines"]}
        await approve_and_pay(world, first)
        second = await make_batch(u["school"], world, policy, semester=CURRENT)
        assert {e["student_id"]: e["reason"] for e in second["excluded"]}[s["id"]] == "already_paid"
