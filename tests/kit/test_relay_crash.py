"""The relay killed mid-batch (kill -9) and restarted: every event delivered, none applied twice."""

import asyncio
import random
import signal

from deploy.stack import Stack
from tests.helpers import World, eventually

N = 200


async def test_relay_killed_mid_batch(stack: Stack, world: World, db):
    stack.stop_process("relay-registry", sig=signal.SIGKILL)
    sem = asyncio.Semaphore(16)

    async def make():
        async with sem:
            return await world.student("junior", stage="junior", grade=1)

    students = await asyncio.gather(*(make() for _ in range(N)))
    ids = [s["id"] for s in students]
    pending = "SELECT count(*) FROM registry.outbox WHERE published_at IS NULL AND subject = ANY($1::text[])"
    assert await db.fetchval(pending, ids) == N

    rng = random.Random(7)
    stack.env["NOL_RELAY_BATCH_SIZE"] = "15"
    kills = 0
    try:
        for _ in range(3):
            stack.spawn("relay-registry")
            left = await db.fetchval(pending, ids)

            async def progressed(left=left):
                return await db.fetchval(pending, ids) < left

            await eventually(progressed, timeout=20, interval=0.005)
            await asyncio.sleep(rng.uniform(0, 0.05))
            stack.stop_process("relay-registry", sig=signal.SIGKILL)
            kills += 1
    finally:
        stack.env.pop("NOL_RELAY_BATCH_SIZE", None)
        stack.spawn("relay-registry")
    assert kills == 3

    async def all_published():
        return await db.fetchval(pending, ids) == 0

    await eventually(all_published, timeout=30)

    async def all_counted():
        got = await world.users["county"].ok("GET", "/api/v1/stats/enrollment")
        return got["students"] == N

    await eventually(all_counted, timeout=30)
    event_ids = await db.fetch(
        "SELECT id FROM registry.outbox WHERE subject = ANY($1::text[]) AND type = 'edu.registry.student.created'",
        ids,
    )
    assert len(event_ids) == N
    applied = await db.fetchval(
        "SELECT count(*) FROM statistics.inbox WHERE event_id = ANY($1::uuid[])", [r["id"] for r in event_ids]
    )
    facts = await db.fetchval(
        "SELECT count(*) FROM statistics.student_fact WHERE student_id = ANY($1::uuid[])", ids
    )
    print(
        f"\nrelay crash: events written={N} delivered={applied} applied={facts} lost={N - facts} "
        f"kills={kills}"
    )
    assert applied == N and facts == N
