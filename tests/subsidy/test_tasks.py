"""Deadlines: unpaid batches near or past their deadline appear in the responsible users' tasks."""

from datetime import timedelta

from services.contracts.calendar import today as local_today
from services.subsidy.domain import deadline_of
from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    PAST,
    POSTED,
    act,
    add_student,
    make_batch,
    make_policy,
    world_projected,
)

TASKS = "/api/v1/subsidy/tasks"


def kinds(tasks: dict, batch: dict) -> list[str]:
    return [t["kind"] for t in tasks["items"] if t["ref"]["id"] == batch["id"]]


class TestTasks:
    async def test_each_role_sees_its_step(self, world: World, db):
        u = world.users
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(u["county"])
        batch = await make_batch(u["county"], world, policy)  # a past semester: overdue
        school_tasks = await u["school"].ok("GET", TASKS)
        (task,) = [t for t in school_tasks["items"] if t["ref"]["id"] == batch["id"]]
        assert task["kind"] == "submit_batch" and task["overdue"] is True
        assert task["due_on"] == deadline_of(PAST).isoformat() and "提交资助名单" in task["title"]
        assert kinds(await u["township"].ok("GET", TASKS), batch) == []
        await act(u["school"], batch, "submit", publicity_start=POSTED)
        assert kinds(await u["school"].ok("GET", TASKS), batch) == []
        assert kinds(await u["township"].ok("GET", TASKS), batch) == ["approve_batch"]
        assert kinds(await u["county"].ok("GET", TASKS), batch) == []
        await act(u["township"], batch, "approve")
        assert kinds(await u["county"].ok("GET", TASKS), batch) == ["approve_batch"]
        await act(u["county"], batch, "approve")
        assert kinds(await u["county"].ok("GET", TASKS), batch) == ["pay_batch"]
        await act(u["county"], batch, "pay", paid_on=local_today().isoformat(), reference="P")
        assert kinds(await u["county"].ok("GET", TASKS), batch) == []

    async def test_only_near_deadline(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy, semester=CURRENT)
        deadline = deadline_of(CURRENT)
        far = await world.users["school"].ok(
            "GET", TASKS, params={"on": (deadline - timedelta(days=30)).isoformat()}
        )
        assert kinds(far, batch) == []
        near = await world.users["school"].ok(
            "GET", TASKS, params={"on": (deadline - timedelta(days=10)).isoformat()}
        )
        (task,) = [t for t in near["items"] if t["ref"]["id"] == batch["id"]]
        assert task["overdue"] is False and task["school_code"] == world.schools["primary"]["code"]

    async def test_objections_to_resolve(self, world: World, db):
        s = await add_student(world)
        await world_projected(db, world, s)
        batch = await make_batch(world.users["school"], world, await make_policy(world.users["county"]))
        await act(world.users["school"], batch, "submit")
        url = f"/api/v1/subsidy/batches/{batch['id']}/objections"
        await world.users["school"].ok("POST", url, 201, json={"student_id": s["id"], "reason": "不符合"})
        tasks = await world.users["township"].ok("GET", TASKS)
        assert [t["student_id"] for t in tasks["items"] if t["kind"] == "resolve_objection"] == [s["id"]]
