"""Faults on real processes: crashes mid-stream, a NATS outage, a PostgreSQL restart; 0 lost, 0 doubled.

Each test runs once on one NATS node and once on a three-node cluster with the stream at 3
replicas (the `faults` fixture), and prints events written, delivered, applied, lost and applied
twice per consumer.

Crashes — writers: tests/faults/writer.py (8 concurrent workers through the registry's own
`enroll` / `update_student`, a few transactions held open 1-3 s after writing their event: the
late-commit gap). Meanwhile the registry relay is killed once between publishing a batch and
marking it, and kept down longer than the broker's dedup window (2 s here), so its re-publish
lands in the stream a second time and only the consumers' inbox stops a double; then the relay,
each service consuming registry events (statistics, dropout, subsidy) and the probe consumer are
killed at random points and started again. On the cluster, one NATS node is also killed
mid-stream. The probe appends a row per application, so "applied twice" is counted, not assumed.

Outages — writes go through the gateway (POST /api/v1/students with an Idempotency-Key, as a
client sends them) from a few concurrent clients, while NATS is down 20 s (the whole cluster,
on the cluster) or PostgreSQL restarts.
"""

import asyncio
import itertools
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter

import asyncpg
import httpx
import pytest

from tests.faults.breakers import (
    CLIENTS,
    api_client,
    kill_relay_between_publish_and_mark,
    registry_gap,
    start_broker,
    stop_broker,
    student_body,
)
from tests.faults.conftest import DEDUP_WINDOW, Faults
from tests.faults.ledger import tally

CHANGES = int(os.environ.get("NOL_FAULT_CHANGES", "5000"))  # enough that every kill lands mid-stream (asserted)
STUDENTS = CHANGES // 5
NATS_DOWN = 20.0


@pytest.mark.timeout(900)
async def test_kill_relay_and_consumers_mid_stream(faults: Faults):
    await faults.heal()
    county, school = await faults.county()
    db = await asyncpg.connect(faults.owner_url)
    rng = random.Random(2026)
    started = time.monotonic()
    faults.killed.clear()
    try:
        baseline = await registry_gap(faults, db)
        writer = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.writer",
            "--school",
            school,
            "--county",
            county,
            "--changes",
            str(CHANGES),
            "--students",
            str(STUDENTS),
            env=faults.env,
            stdout=asyncio.subprocess.PIPE,
        )
        in_flight = await kill_relay_between_publish_and_mark(faults, db, baseline)
        await asyncio.sleep(DEDUP_WINDOW + 1.5)  # down longer than the broker remembers message ids
        faults.start("relay-registry")

        async def later(delay: float, coro) -> None:
            await asyncio.sleep(delay)
            await coro

        chaos = [
            later(rng.uniform(0.5, 5), faults.restart(name, after=rng.uniform(0, 1)))
            for name in ("statistics", "dropout", "subsidy", "probe")
        ]
        chaos += [later(rng.uniform(1, 8), faults.restart("relay-registry", after=rng.uniform(0, 0.5)))]
        if faults.cluster is not None:
            node = rng.choice(faults.cluster.names)

            async def node_down() -> None:
                await asyncio.sleep(rng.uniform(1, 4))
                faults.killed.append(f"nats node {node}")
                faults.cluster.stop_node(node, sig=signal.SIGKILL)
                await asyncio.sleep(5)
                await asyncio.to_thread(faults.cluster.start_node, node)

            chaos.append(node_down())
        await asyncio.gather(*chaos)
        mid_stream = writer.returncode is None  # every kill and restart happened while writes went on
        out, _ = await asyncio.wait_for(writer.communicate(), timeout=400)
        assert writer.returncode == 0
        written = int(out.decode().split()[-1])
        writes_done = time.monotonic() - started
        ledger = await tally(
            db,
            nats_url=faults.nats_url,
            stream=faults.stream,
            prefix=faults.prefix,
            school=school,
            timeout=120,
        )
    finally:
        await db.close()
    print(
        f"\n[{faults.kind}] {ledger.lines('crashes')}\n"
        f"  killed: {', '.join(faults.killed)}; relay cut with {in_flight} published-unmarked rows; "
        f"writes {writes_done:.1f} s, all applied after {time.monotonic() - started:.1f} s"
    )
    assert mid_stream, f"the writes ended before the chaos did: raise NOL_FAULT_CHANGES above {CHANGES}"
    assert ledger.written == written == CHANGES
    assert ledger.delivered_distinct == CHANGES
    assert ledger.delivered > ledger.delivered_distinct, "the relay outage re-published nothing"
    assert ledger.lost == dict.fromkeys(ledger.applied, 0)
    assert ledger.twice == 0
    assert ledger.stale == dict.fromkeys(ledger.stale, 0)


async def test_nats_down_for_20s_writes_succeed_and_the_outbox_drains(faults: Faults):
    await faults.heal()
    county, school = await faults.county()
    db = await asyncpg.connect(faults.owner_url)
    seq = itertools.count()
    statuses: Counter = Counter()
    stop = asyncio.Event()

    async def writer(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            i = next(seq)
            r = await client.post(
                "/api/v1/students",
                json=student_body(county, school, i),
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            statuses[r.status_code] += 1
            await asyncio.sleep(0.05)

    try:
        async with api_client(faults) as client:
            writers = [asyncio.create_task(writer(client)) for _ in range(CLIENTS)]
            await asyncio.sleep(1)
            port = await asyncio.to_thread(stop_broker, faults)
            try:
                down_at = time.monotonic()
                before = sum(statuses.values())
                await asyncio.sleep(NATS_DOWN)
                during = sum(statuses.values()) - before
                unpublished = await db.fetchval(
                    "SELECT count(*) FROM registry.outbox WHERE published_at IS NULL"
                )
            finally:
                await asyncio.to_thread(start_broker, faults, port)
            up_at = time.monotonic()
            await asyncio.sleep(1)
            stop.set()
            await asyncio.gather(*writers)

        async def drained() -> bool:
            return await db.fetchval("SELECT count(*) FROM registry.outbox WHERE published_at IS NULL") == 0

        while not await drained():
            assert time.monotonic() - up_at < 15, "the outbox did not drain within 15 s of NATS coming back"
            await asyncio.sleep(0.2)
        drained_after = time.monotonic() - up_at
        ledger = await tally(
            db,
            nats_url=faults.nats_url,
            stream=faults.stream,
            prefix=faults.prefix,
            school=school,
            timeout=90,
        )
    finally:
        await db.close()
    print(
        f"\n[{faults.kind}] NATS down {up_at - down_at:.0f} s: {during} writes during the outage, "
        f"statuses {dict(statuses)}, {unpublished} events waiting in the outbox at the end of it, "
        f"drained {drained_after:.1f} s after NATS was back\n{ledger.lines('nats outage')}"
    )
    assert set(statuses) == {201}, statuses
    assert during > 0 and unpublished > 0
    assert ledger.written == sum(statuses.values())
    assert ledger.lost == dict.fromkeys(ledger.applied, 0)
    assert ledger.twice == 0
    assert ledger.stale == dict.fromkeys(ledger.stale, 0)


def _in_progress(r: httpx.Response) -> bool:
    """A retry that arrives while the gateway still cannot record the first attempt's failure
    (the database is down) is told to come back: 409 idempotency_in_progress with Retry-After."""
    return (
        r.status_code == 409
        and r.headers.get("retry-after") is not None
        and "idempotency_in_progress" in r.text
    )


async def test_postgres_restart_under_load_fails_cleanly_then_succeeds_on_retry(faults: Faults):
    await faults.heal()
    county, school = await faults.county()
    seq = itertools.count()
    first: Counter = Counter()  # the first answer each request got
    bad: list[str] = []
    retries_needed: list[float] = []
    reads: Counter = Counter()
    stop = asyncio.Event()

    async def write(client: httpx.AsyncClient) -> None:
        i, key = next(seq), str(uuid.uuid4())
        started, answered = time.monotonic(), False
        while True:
            try:
                r = await client.post(
                    "/api/v1/students", json=student_body(county, school, i), headers={"Idempotency-Key": key}
                )
                status = r.status_code
            except httpx.TransportError as exc:
                status = type(exc).__name__
                bad.append(f"POST {status}")
            if not answered:
                first[status] += 1
                answered = True
            if status == 201:
                if time.monotonic() - started > 0.5:
                    retries_needed.append(time.monotonic() - started)
                return
            if isinstance(status, int):
                clean = status in (502, 503, 504) or _in_progress(r)
                if not (clean and r.headers.get("content-type", "").startswith("application/problem+json")):
                    bad.append(f"POST {status}: {r.text[:200]}")
            assert time.monotonic() - started < 45, f"a write still failing after 45 s: {status}"
            await asyncio.sleep(0.5)

    async def client_loop(client: httpx.AsyncClient) -> None:
        while not stop.is_set():
            await write(client)
            try:
                r = await client.get("/api/v1/students", params={"school_code": school, "limit": 20})
                reads[r.status_code] += 1
                if r.status_code != 200 and not r.headers.get("content-type", "").startswith(
                    "application/problem+json"
                ):
                    bad.append(f"GET {r.status_code}: {r.text[:200]}")
            except httpx.TransportError as exc:
                reads[type(exc).__name__] += 1
                bad.append(f"GET {type(exc).__name__}")
            await asyncio.sleep(0.02)

    db = None
    async with api_client(faults) as client:
        loops = [asyncio.create_task(client_loop(client)) for _ in range(CLIENTS)]
        await asyncio.sleep(2)
        t0 = time.monotonic()
        await asyncio.to_thread(faults.stack.servers.pg.restart, down_seconds=3)
        restarted = time.monotonic() - t0
        await asyncio.sleep(4)
        stop.set()
        await asyncio.gather(*loops)
    try:
        db = await asyncpg.connect(faults.owner_url)
        ledger = await tally(
            db,
            nats_url=faults.nats_url,
            stream=faults.stream,
            prefix=faults.prefix,
            school=school,
            timeout=90,
        )
    finally:
        if db is not None:
            await db.close()
    print(
        f"\n[{faults.kind}] PostgreSQL down {restarted:.1f} s under load: first answers {dict(first)}, "
        f"reads {dict(reads)}, {len(retries_needed)} writes needed retries "
        f"(longest {max(retries_needed, default=0):.1f} s)\n{ledger.lines('postgres restart')}"
    )
    assert not bad, bad[:5]
    assert len(retries_needed) > 0, "no request saw the outage"
    assert ledger.written == first.total()
    assert ledger.lost == dict.fromkeys(ledger.applied, 0)
    assert ledger.twice == 0
    assert ledger.stale == dict.fromkeys(ledger.stale, 0)
