"""Public notice (公示): masked lists for the school's and villages' users; objections resolved before approval."""

from tests.helpers import World
from tests.subsidy.helpers import POSTED, act, add_student, events, make_batch, make_policy, world_projected


async def household(world: World, village: int) -> dict:
    body = {
        "head_name": "王建国",
        "area_code": world.villages[village],
        "platform_id": f"P{world.code}{village}{id(world) % 10**6}",
        "statuses": [],
    }
    return await world.users["county"].ok("POST", "/api/v1/households", 201, json=body)


async def published(world: World, db) -> tuple[dict, dict, dict]:
    """A submitted batch with one child of village 0 and one of village 1."""
    mine = await add_student(world, household_id=(await household(world, 0))["id"], name="王小明")
    other = await add_student(world, household_id=(await household(world, 1))["id"])
    await world_projected(db, world, mine, other)
    policy = await make_policy(world.users["county"])
    batch = await make_batch(world.users["school"], world, policy)
    await act(world.users["school"], batch, "submit", publicity_start=POSTED)
    await act(world.users["township"], batch, "approve")
    return batch, mine, other


class TestPublicNotice:
    async def test_village_sees_its_children_masked(self, world: World, db):
        batch, mine, other = await published(world, db)
        notice = await world.users["village"].ok("GET", f"/api/v1/subsidy/batches/{batch['id']}/publicity")
        assert [line["student_id"] for line in notice["lines"]] == [mine["id"]]
        line = notice["lines"][0]
        assert line["name"] == "王*明" and line["id_number_masked"] == mine["id_number_masked"]
        assert "*" in line["id_number_masked"] and line["amount_fen"] == 62500
        school = await world.users["school"].ok("GET", f"/api/v1/subsidy/batches/{batch['id']}/publicity")
        assert {line["student_id"] for line in school["lines"]} == {mine["id"], other["id"]}
        assert school["publicity_start"] == POSTED

    async def test_notice_list_and_draft_not_published(self, world: World, db):
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy)
        url = f"/api/v1/subsidy/batches/{batch['id']}/publicity"
        assert (await world.users["school"].get(url)).status_code == 404
        await act(world.users["school"], batch, "submit")
        running = await world.users["school"].ok("GET", "/api/v1/subsidy/publicity")
        assert batch["id"] in [n["batch_id"] for n in running["items"]]
        assert running["items"][0]["active"] is True

    async def test_other_village_404(self, world: World, db):
        batch, _, _ = await published(world, db)
        village1 = await world.user("village", world.villages[2])
        notice = await village1.get(f"/api/v1/subsidy/batches/{batch['id']}/publicity")
        assert notice.status_code == 404


class TestObjections:
    async def test_objections_block_the_county_until_resolved(self, world: World, db):
        batch, mine, other = await published(world, db)
        u = world.users
        url = f"/api/v1/subsidy/batches/{batch['id']}/objections"
        first = await u["village"].ok(
            "POST", url, 201, json={"student_id": mine["id"], "reason": "家中新购轿车"}
        )
        assert first["status"] == "open" and first["raised_by"] == u["village"].username
        second = await u["school"].ok(
            "POST", url, 201, json={"student_id": other["id"], "reason": "已随父母外出"}
        )
        resp = await u["county"].post(f"/api/v1/subsidy/batches/{batch['id']}/approve")
        assert resp.status_code == 409 and "objection" in resp.json()["detail"]
        resolve = f"{url}/{first['id']}/resolve"
        assert (
            await u["school"].post(resolve, json={"outcome": "dismissed", "note": "x"})
        ).status_code == 403
        done = await u["township"].ok(
            "POST", resolve, json={"outcome": "dismissed", "note": "经核实车辆为借用"}
        )
        assert done["status"] == "dismissed" and done["resolved_by"] == u["township"].username
        assert (await u["township"].post(resolve, json={"outcome": "upheld", "note": "x"})).status_code == 409
        upheld = await u["county"].ok(
            "POST", f"{url}/{second['id']}/resolve", json={"outcome": "upheld", "note": "学生已转往外省就读"}
        )
        assert upheld["status"] == "upheld"
        got = await u["county"].ok("GET", f"/api/v1/subsidy/batches/{batch['id']}")
        assert [line["student_id"] for line in got["lines"]] == [mine["id"]] and got["total_fen"] == 62500
        removed = {e["student_id"]: e for e in got["excluded"]}[other["id"]]
        assert removed["reason"] == "objection" and "学生已转往外省就读" in removed["reason_text"]
        approved = await act(u["county"], batch, "approve")
        assert approved["status"] == "approved" and approved["open_objections"] == 0
        cancelled = await events(db, "edu.subsidy.disbursement.cancelled")
        assert [e["data"]["student_id"] for e in cancelled if e["data"]["batch_id"] == batch["id"]] == [
            other["id"]
        ]
        assert await events(db, "edu.subsidy.objection.raised") and await events(
            db, "edu.subsidy.objection.resolved"
        )
        listed = await u["county"].ok("GET", url)
        assert {o["status"] for o in listed["items"]} == {"dismissed", "upheld"}

    async def test_student_not_on_the_list_422(self, world: World, db):
        batch, _, _ = await published(world, db)
        outsider = await add_student(world, groups=[])
        resp = await world.users["school"].post(
            f"/api/v1/subsidy/batches/{batch['id']}/objections",
            json={"student_id": outsider["id"], "reason": "?"},
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["student_id"]

    async def test_village_objects_only_to_its_children(self, world: World, db):
        batch, _, other = await published(world, db)
        resp = await world.users["village"].post(
            f"/api/v1/subsidy/batches/{batch['id']}/objections",
            json={"student_id": other["id"], "reason": "?"},
        )
        assert resp.status_code == 422

    async def test_reason_required_422(self, world: World, db):
        batch, mine, _ = await published(world, db)
        resp = await world.users["school"].post(
            f"/api/v1/subsidy/batches/{batch['id']}/objections", json={"student_id": mine["id"], "reason": ""}
        )
        assert resp.status_code == 422
