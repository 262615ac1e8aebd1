"""Back-pay (补发): a household that becomes eligible yields proposals that go through the same approvals."""

from datetime import timedelta

from services.contracts.calendar import today as local_today
from tests.helpers import World, eventually
from tests.subsidy.helpers import (
    CURRENT,
    act,
    add_student,
    approve_and_pay,
    events,
    make_batch,
    make_policy,
    projected,
    world_projected,
)

DISBURSEMENTS = "/api/v1/subsidy/disbursements"
SINCE = (local_today() - timedelta(days=30)).isoformat()


async def poor_later(world: World, db) -> tuple[dict, dict]:
    """A boarder of a household with no status yet (not eligible), projected."""
    county = world.users["county"]
    body = {
        "head_name": "李四",
        "area_code": world.villages[0],
        "platform_id": f"BP{world.code}",
        "statuses": [],
    }
    hh = await county.ok("POST", "/api/v1/households", 201, json=body)
    s = await add_student(world, groups=[], household_id=hh["id"])
    await world_projected(db, world, s)
    return hh, s


async def becomes_dibao(world: World, hh: dict) -> None:
    await world.users["county"].ok(
        "PATCH",
        f"/api/v1/households/{hh['id']}",
        json={"version": hh["version"], "statuses": [{"kind": "dibao", "since": SINCE}]},
    )


class TestBackPay:
    async def test_status_change_after_submission_is_back_paid(self, world: World, db):
        u = world.users
        hh, s = await poor_later(world, db)
        paid_already = await add_student(world)
        await projected(db, paid_already)
        policy = await make_policy(u["county"])
        batch = await make_batch(u["school"], world, policy, semester=CURRENT)
        assert {e["student_id"]: e["reason"] for e in batch["excluded"]}[s["id"]] == "category"
        await approve_and_pay(world, batch)
        await becomes_dibao(world, hh)

        async def proposal():
            page = await u["school"].ok(
                "GET", DISBURSEMENTS, params={"student_id": s["id"], "status": "proposed"}
            )
            return page["items"]

        (row,) = await eventually(proposal)
        assert row["batch_id"] is None and row["kind"] == "back_pay" and row["amount_fen"] == 62500
        assert row["semester"] == CURRENT and row["policy_code"] == policy["code"]
        assert (await events(db, "edu.subsidy.disbursement.proposed", row["id"]))[0]["data"][
            "categories"
        ] == ["dibao"]
        tasks = await u["school"].ok("GET", "/api/v1/subsidy/tasks")
        assert any(t["kind"] == "batch_back_pay" and t["count"] == 1 for t in tasks["items"])
        back = await make_batch(u["school"], world, policy, semester=CURRENT, kind="back_pay")
        assert back["kind"] == "back_pay" and [line["student_id"] for line in back["lines"]] == [s["id"]]
        body = {
            "school_code": back["school_code"],
            "semester": CURRENT,
            "policy_code": policy["code"],
            "kind": "back_pay",
        }
        assert (await u["school"].post("/api/v1/subsidy/batches", json=body)).status_code == 409
        paid = await approve_and_pay(world, back)
        assert paid["status"] == "paid" and paid["total_fen"] == 62500
        rows = await u["county"].ok("GET", DISBURSEMENTS, params={"student_id": s["id"]})
        assert [(r["status"], r["kind"], r["batch_id"]) for r in rows["items"]] == [
            ("paid", "back_pay", back["id"])
        ]
        # The student paid in the regular batch is not proposed again.
        others = await u["county"].ok("GET", DISBURSEMENTS, params={"student_id": paid_already["id"]})
        assert len(others["items"]) == 1

    async def test_draft_batch_takes_them_by_regeneration_instead(self, world: World, db):
        u = world.users
        hh, s = await poor_later(world, db)
        policy = await make_policy(u["county"])
        batch = await make_batch(u["school"], world, policy, semester=CURRENT)
        await becomes_dibao(world, hh)

        async def rederived():
            row = await db.fetchrow(
                "SELECT categories FROM subsidy.student WHERE student_id = $1::uuid", s["id"]
            )
            return row["categories"] == ["dibao"]

        await eventually(rederived)
        page = await u["county"].ok("GET", DISBURSEMENTS, params={"student_id": s["id"]})
        assert page["items"] == []
        again = await act(u["school"], batch, "regenerate")
        assert [line["student_id"] for line in again["lines"]] == [s["id"]]

    async def test_no_proposals_no_back_pay_batch_409(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": CURRENT,
            "policy_code": policy["code"],
            "kind": "back_pay",
        }
        assert (await world.users["school"].post("/api/v1/subsidy/batches", json=body)).status_code == 409
