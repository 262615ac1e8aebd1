"""The read barrier (kit.barrier): a decision from a projection sees every write acknowledged before it.

No sleeps and no waiting for the projection here: each test asks right after its writes were
acknowledged, as a clerk would, and requires the answer to reflect them.
"""

import asyncio
import contextlib
import os
import signal
import time

from tests.helpers import World
from tests.subsidy.helpers import add_student, make_batch, make_policy

WRITERS, PER_WRITER = 8, 50


async def test_batch_right_after_concurrent_registrations_has_every_child(world: World):
    """400 children registered by 8 clerks at once; the batch asked for at once lists all 400."""
    policy = await make_policy(world.users["county"])
    clerks = [await world.user("county", world.code) for _ in range(WRITERS)]

    async def one(clerk) -> dict:
        while True:  # random test ID numbers can collide (409 registered elsewhere): draw again
            body = world.student_body(groups=["orphan"])
            body["enrollment"]["boarding"] = True
            resp = await clerk.post("/api/v1/students", json=body)
            if resp.status_code != 409:
                assert resp.status_code == 201, resp.text
                return resp.json()

    async def register(clerk) -> list[dict]:
        return [await one(clerk) for _ in range(PER_WRITER)]

    registered = [s for batch in await asyncio.gather(*(register(c) for c in clerks)) for s in batch]
    assert len(registered) == WRITERS * PER_WRITER

    batch = await make_batch(world.users["school"], world, policy)

    assert batch["line_count"] == WRITERS * PER_WRITER
    assert {line["student_id"] for line in batch["lines"]} == {s["id"] for s in registered}
    assert batch["excluded"] == [] and batch["excluded_count"] == 0
    assert batch["as_of"]["registry"] > 0


async def test_batch_right_after_an_import_has_every_child(world: World):
    """The batch asked for the moment a 1,500-row import says done lists all 1,500 (no exclusion)."""
    from tests.registry.imports_helpers import STUDENT_HEADER, csv_bytes, run_import, student_row

    county = world.users["county"]
    policy = await make_policy(county, categories=[])  # every boarder of the stage
    rows = [student_row(world) for _ in range(1500)]
    job = await run_import(county, "students", csv_bytes(STUDENT_HEADER, rows))
    assert job["created"] >= 1490, job  # random ID numbers may rarely collide (a row error)

    batch = await make_batch(world.users["school"], world, policy)

    assert batch["line_count"] == job["created"] and batch["excluded_count"] == 0


async def test_writes_answer_with_their_event_position(world: World):
    county = world.users["county"]
    first = await county.post("/api/v1/students", json=world.student_body())
    second = await county.post("/api/v1/students", json=world.student_body())
    assert first.status_code == second.status_code == 201
    service, _, a = first.headers["x-event-position"].partition(":")
    _, _, b = second.headers["x-event-position"].partition(":")
    assert service == "registry" and 0 < int(a) < int(b)
    # A read does not write: no position.
    read = await county.get(f"/api/v1/students/{first.json()['id']}")
    assert read.status_code == 200 and "x-event-position" not in read.headers


async def test_min_position_waits_for_that_write(world: World):
    county = world.users["county"]
    written = await county.post("/api/v1/students", json=world.student_body(groups=["orphan"]))
    position = written.headers["x-event-position"]
    figures = await county.ok("GET", "/api/v1/stats/enrollment", params={"min_position": position})
    assert figures["as_of"]["registry"] >= int(position.split(":")[1])
    tasks = await county.get("/api/v1/subsidy/tasks", params={"min_position": position})
    assert tasks.status_code == 200


async def test_min_position_refuses_what_it_cannot_mean(world: World):
    county = world.users["county"]
    for bad, why in (
        ("registry", "pattern"),  # no number
        ("registry:-1", "pattern"),
        ("subsidy:1", "projects no events of subsidy"),  # subsidy does not project itself
        ("registry:999999999999", "no write with that position"),
    ):
        r = await county.get("/api/v1/subsidy/tasks", params={"min_position": bad})
        assert r.status_code == 422, (bad, r.text)
        problem = r.json()
        assert problem["errors"][0]["loc"][-1] == "min_position", problem
        if why != "pattern":
            assert why in problem["errors"][0]["msg"]


@contextlib.contextmanager
def relay_paused(stack):
    """Freeze the registry's relay process (SIGSTOP) for the block: its outbox waits, flushes wait."""
    pid = stack.procs["relay-registry"].pid
    os.kill(pid, signal.SIGSTOP)
    try:
        yield lambda: os.kill(pid, signal.SIGCONT)
    finally:
        os.kill(pid, signal.SIGCONT)


async def test_a_read_behind_a_paused_relay_waits_then_answers(world: World, stack):
    """With the registry's relay frozen, a batch request waits (not a stale answer) and completes once
    the relay goes on, with the child registered meanwhile."""
    policy = await make_policy(world.users["county"])
    with relay_paused(stack) as resume:
        child = await add_student(world)  # committed, acknowledged, still in the registry's outbox
        started = time.monotonic()
        request = asyncio.create_task(
            world.users["school"].post(
                "/api/v1/subsidy/batches",
                json={
                    "school_code": world.schools["primary"]["code"],
                    "semester": make_semester(),
                    "policy_code": policy["code"],
                },
            )
        )
        await asyncio.sleep(2)
        assert not request.done(), "the batch was decided while the registry's writes were unpublished"
        resume()
        response = await request
    assert response.status_code == 201, response.text
    assert time.monotonic() - started >= 2
    batch = response.json()
    assert child["id"] in {line["student_id"] for line in batch["lines"]}


async def test_a_read_past_the_bound_is_503_with_retry_after(world: World, stack):
    """When the producer cannot confirm its writes in time, the answer is 503 + Retry-After, never stale."""
    with relay_paused(stack):
        await add_student(world)
        r = await world.users["county"].get("/api/v1/stats/enrollment")
    assert r.status_code == 503, r.text
    assert r.headers["retry-after"] and r.headers["content-type"].startswith("application/problem+json")


def make_semester() -> str:
    from tests.subsidy.helpers import PAST

    return PAST
