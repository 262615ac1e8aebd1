"""The disbursement list: one row per line, its status following its batch, inside the caller's scope."""

from tests.helpers import World
from tests.subsidy.helpers import (
    PAST,
    act,
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    world_projected,
)

URL = "/api/v1/subsidy/disbursements"


class TestDisbursements:
    async def test_status_follows_the_batch(self, world: World, db):
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy)

        async def status() -> str:
            (row,) = (await world.users["school"].ok("GET", URL, params={"batch_id": batch["id"]}))["items"]
            return row["status"]

        assert await status() == "draft"
        await act(world.users["school"], batch, "submit")
        assert await status() == "submitted"
        await act(world.users["township"], batch, "reject", reason="补充材料")
        assert await status() == "rejected"
        await approve_and_pay(world, batch)
        assert await status() == "paid"
        (row,) = (
            await world.users["county"].ok("GET", URL, params={"student_id": s["id"], "semester": PAST})
        )["items"]
        assert row["paid_on"] and row["amount_fen"] == 62500 and row["policy_code"] == policy["code"]

    async def test_scope_and_filters(self, world: World, db):
        a = await add_student(world)
        b = await add_student(world, "other_primary")
        await world_projected(db, world, a, b)
        policy = await make_policy(world.users["county"])
        await make_batch(world.users["county"], world, policy)
        await make_batch(world.users["county"], world, policy, school="other_primary")
        county = await world.users["county"].ok("GET", URL, params={"policy_code": policy["code"]})
        assert {r["student_id"] for r in county["items"]} == {a["id"], b["id"]}
        school = await world.users["school"].ok("GET", URL, params={"policy_code": policy["code"]})
        assert [r["student_id"] for r in school["items"]] == [a["id"]]
        township = await world.users["township"].ok("GET", URL, params={"student_id": b["id"]})
        assert township["items"] == []
        assert (await world.users["county"].get(URL, params={"status": "lost"})).status_code == 422
        page = await world.users["county"].ok("GET", URL, params={"policy_code": policy["code"], "limit": 1})
        assert len(page["items"]) == 1 and page["next_cursor"]
        rest = await world.users["county"].ok(
            "GET", URL, params={"policy_code": policy["code"], "limit": 1, "cursor": page["next_cursor"]}
        )
        assert {page["items"][0]["id"], rest["items"][0]["id"]} == {r["id"] for r in county["items"]}
