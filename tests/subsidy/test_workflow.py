"""Approvals: the school submits, the township then the county approve, the county pays; each by its role."""

from datetime import timedelta

from tests.helpers import World
from tests.subsidy.helpers import (
    POSTED,
    TODAY,
    act,
    add_student,
    events,
    make_batch,
    make_policy,
    world_projected,
)


async def draft(world: World, db, n: int = 2) -> dict:
    students = [await add_student(world) for _ in range(n)]
    await world_projected(db, world, *students)
    policy = await make_policy(world.users["county"])
    return await make_batch(world.users["school"], world, policy)


class TestSubmit:
    async def test_school_submits_and_notice_starts(self, world: World, db):
        batch = await draft(world, db)
        got = await act(world.users["school"], batch, "submit", publicity_start=POSTED)
        assert got["status"] == "submitted" and got["awaiting"] == "township"
        assert got["publicity_start"] == POSTED
        assert got["publicity_end"] == (TODAY + timedelta(days=0)).isoformat()  # posted 5 days ago, 5 days
        assert {line["status"] for line in got["lines"]} == {"submitted"}
        step = got["history"][-1]
        assert (
            step["action"] == "submitted" and step["actor"] == world.users["school"].username and step["at"]
        )
        assert (await events(db, "edu.subsidy.batch.submitted", batch["id"]))[0]["data"][
            "awaiting"
        ] == "township"

    async def test_only_the_school_submits_403(self, world: World, db):
        batch = await draft(world, db)
        for role in ("county", "township"):
            await act(world.users[role], batch, "submit", 403)

    async def test_publicity_start_not_future_nor_long_ago_422(self, world: World, db):
        batch = await draft(world, db)
        for day in (TODAY + timedelta(days=1), TODAY - timedelta(days=31)):
            resp = await world.users["school"].post(
                f"/api/v1/subsidy/batches/{batch['id']}/submit", json={"publicity_start": day.isoformat()}
            )
            assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["publicity_start"]

    async def test_stale_version_409(self, world: World, db):
        batch = await draft(world, db)
        await act(world.users["school"], batch, "submit", 409, version=7)


class TestApproveAndPay:
    async def test_full_round_each_step_by_its_role(self, world: World, db):
        u = world.users
        batch = await draft(world, db, n=3)
        await act(u["school"], batch, "submit", publicity_start=POSTED)
        await act(u["school"], batch, "approve", 403)  # a school never approves
        await act(u["village"], batch, "approve", 403)
        await act(u["county"], batch, "approve", 409)  # the township first
        got = await act(u["township"], batch, "approve", note="已核实")
        assert got["status"] == "submitted" and got["awaiting"] == "county"
        await act(u["township"], batch, "approve", 409)  # now the county's
        await act(
            u["county"], batch, "pay", 409, paid_on=TODAY.isoformat(), reference="X"
        )  # not approved yet
        got = await act(u["county"], batch, "approve")
        assert got["status"] == "approved" and got["awaiting"] is None
        await act(u["township"], batch, "pay", 403, paid_on=TODAY.isoformat(), reference="X")
        bad = await u["county"].post(
            f"/api/v1/subsidy/batches/{batch['id']}/pay",
            json={"paid_on": (TODAY + timedelta(days=1)).isoformat(), "reference": "X"},
        )
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["paid_on"]
        paid = await act(u["county"], batch, "pay", paid_on=TODAY.isoformat(), reference="GK-2026-0042")
        assert paid["status"] == "paid" and paid["paid_on"] == TODAY.isoformat()
        assert paid["reference"] == "GK-2026-0042" and paid["total_fen"] == 3 * 62500
        assert {line["status"] for line in paid["lines"]} == {"paid"}
        steps = [(h["action"], h["level"], h["role"]) for h in paid["history"]]
        assert steps == [
            ("generated", None, "school"),
            ("submitted", None, "school"),
            ("approved", "township", "township"),
            ("approved", "county", "county"),
            ("paid", None, "county"),
        ]
        approved = await events(db, "edu.subsidy.batch.approved", batch["id"])
        assert [e["data"]["level"] for e in approved] == ["township", "county"]
        lines = [
            e
            for e in await events(db, "edu.subsidy.disbursement.paid")
            if e["data"]["batch_id"] == batch["id"]
        ]
        assert len(lines) == 3 and sum(e["data"]["amount_fen"] for e in lines) == 187500
        data = lines[0]["data"]
        assert data["paid_on"] == TODAY.isoformat() and data["stage"] == "primary"
        assert data["categories"] == ["orphan"] and data["policy_kind"] == "living_allowance"
        assert data["area_code"] == world.townships[0] and data["school_code"] == batch["school_code"]
        await act(u["county"], batch, "pay", 409, paid_on=TODAY.isoformat(), reference="again")

    async def test_admin_may_do_county_steps(self, world: World, db, api):
        batch = await draft(world, db)
        await act(world.users["school"], batch, "submit", publicity_start=POSTED)
        await act(world.users["township"], batch, "approve")
        got = await act(api, batch, "approve")
        assert got["status"] == "approved" and got["history"][-1]["role"] == "admin"

    async def test_county_cannot_approve_during_public_notice(self, world: World, db):
        batch = await draft(world, db)
        await act(world.users["school"], batch, "submit")  # posted today: runs five days
        await act(world.users["township"], batch, "approve")  # the township may look at it meanwhile
        resp = await world.users["county"].post(f"/api/v1/subsidy/batches/{batch['id']}/approve")
        assert resp.status_code == 409 and "公示" in resp.json()["detail"]

    async def test_school_directly_under_the_county_skips_the_township(self, world: World, db, api):
        world.schools["county_high"] = await world.school("34", world.code, ["junior", "senior"], "县中学")
        s = await add_student(world, "county_high", stage="senior", grade=1)
        await world_projected(db, world, s)
        policy = await make_policy(
            world.users["county"], stages=["senior"], boarding_only=False, kind="grant"
        )
        user = await world.user("school", world.code, world.schools["county_high"]["code"])
        batch = await make_batch(user, world, policy, school="county_high")
        got = await act(user, batch, "submit", publicity_start=POSTED)
        assert got["awaiting"] == "county"
        assert (await act(world.users["county"], batch, "approve"))["status"] == "approved"


class TestRejectAndResubmit:
    async def test_reject_resubmit_round(self, world: World, db):
        u = world.users
        batch = await draft(world, db)
        await act(u["school"], batch, "submit", publicity_start=POSTED)
        await act(u["township"], batch, "reject", 422)  # a reason is required
        got = await act(u["township"], batch, "reject", reason="缺少家庭经济困难认定材料")
        assert got["status"] == "rejected" and got["reject_reason"] == "缺少家庭经济困难认定材料"
        assert {line["status"] for line in got["lines"]} == {"rejected"}
        await act(u["county"], batch, "approve", 409)
        # The school fixes it and submits again, as is: it goes to the township again.
        got = await act(u["school"], batch, "submit", publicity_start=POSTED)
        assert got["status"] == "submitted" and got["awaiting"] == "township" and got["reject_reason"] is None
        await act(u["township"], batch, "approve")
        await act(u["township"], batch, "reject", 409, reason="too late")  # the county's now
        got = await act(u["county"], batch, "reject", reason="金额需按新标准")
        assert got["status"] == "rejected"
        # Or regenerates it (back to draft) first.
        newcomer = await add_student(world)
        await world_projected(db, world, newcomer)
        got = await act(u["school"], batch, "regenerate")
        assert got["status"] == "draft" and got["line_count"] == 3
        await act(u["school"], batch, "submit", publicity_start=POSTED)
        await act(u["township"], batch, "approve")
        await act(u["county"], batch, "approve")
        paid = await act(u["county"], batch, "pay", paid_on=TODAY.isoformat(), reference="R-1")
        assert paid["status"] == "paid" and paid["total_fen"] == 3 * 62500
        actions = [(h["action"], h["level"]) for h in paid["history"]]
        assert actions.count(("rejected", "township")) == 1 and actions.count(("rejected", "county")) == 1
        rejected = await events(db, "edu.subsidy.batch.rejected", batch["id"])
        assert [e["data"]["note"] for e in rejected] == ["缺少家庭经济困难认定材料", "金额需按新标准"]

    async def test_school_cannot_reject_403(self, world: World, db):
        batch = await draft(world, db)
        await act(world.users["school"], batch, "submit")
        await act(world.users["school"], batch, "reject", 403, reason="x")
