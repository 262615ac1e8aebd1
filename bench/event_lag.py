"""Event lag: from a write's acknowledgement to each projection that applies its event.

    .venv/bin/python bench/event_lag.py [--rates 100,300,1000] [--seconds 15] [--students 3000]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS, every service, relays in
process), registers `--students` children at one school, then for each rate writes student
changes open-loop (a change is due every 1/rate s whether or not the last one finished) through
the registry's own service code (`update_student`: the transactional outbox, as the API does it,
without the HTTP layer, so the rate is the broker's and the consumers' to keep up with). A change
is acknowledged when its transaction commits; a poller (every 20 ms, as the database owner) reads
the student's version in each projection (statistics, dropout, subsidy) and records when the new
version is there. Prints the achieved write rate and the lag p50/p95/p99 per projection and rate.

Target (performance issue): p99 < 1 s at 1,000 writes/s. The baseline in the same run is the
relay alone: write acknowledged → the event arriving at a plain NATS subscriber of
`edu.registry.student.>` (the broker's delivery, no consumer work).
"""

import argparse
import asyncio
import json
import os
import random
import shutil
import sys
import tempfile
import time
import uuid
from datetime import date, timedelta
from pathlib import Path

import asyncpg
import httpx
import nats
from sqlalchemy.engine import make_url
from stdnum.cn import ric

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import machine, percentile, result
from deploy.stack import Stack

ADMIN = ("admin", "Admin-bench-2026")
COUNTY, TOWNSHIP, SCHOOL = "610131", "610131100", "2161310001"
PROJECTIONS = {  # name -> (table, its student id column)
    "statistics": ("statistics.student_fact", "student_id"),
    "dropout": ("dropout.student", "id"),
    "subsidy": ("subsidy.student", "student_id"),
}
POLL = 0.02
NAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"


def id_number(i: int) -> str:
    birth = date(2016, 1, 1) + timedelta(days=i // 1000)
    body = f"{COUNTY}{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


async def setup(stack: Stack) -> None:
    """The county, a township and a school, through the API."""
    async with httpx.AsyncClient(base_url=stack.url(), timeout=60) as client:
        r = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
        )
        r.raise_for_status()
        h = {"Authorization": f"Bearer {r.json()['access_token']}"}
        areas = [{"code": COUNTY, "name": "基准县"}, {"code": TOWNSHIP, "name": "基准镇"}]
        (await client.post("/api/v1/areas", json=areas, headers=h)).raise_for_status()
        school = {"code": SCHOOL, "name": "基准小学", "area_code": TOWNSHIP, "stages": ["primary"]}
        (await client.post("/api/v1/schools", json=school, headers=h)).raise_for_status()


class Writer:
    """Student changes through the registry's service code, one transaction each."""

    def __init__(self, concurrency: int) -> None:
        # Imported here: the settings read the stack's NOL_* environment, set by then.
        from services.kit.auth import Principal, Role
        from services.kit.db import make_engine, service_url, sessionmaker_for
        from services.kit.settings import get_settings

        self.admin = Principal(sub=str(uuid.uuid4()), username="lag-bench", role=Role.admin, area_code="61")
        self.engine = make_engine(service_url(get_settings(), "registry"), pool_size=concurrency)
        self.maker = sessionmaker_for(self.engine)
        self.concurrency = concurrency
        self.rng = random.Random(7)

    async def enroll(self, i: int) -> uuid.UUID:
        from services.registry.students.schemas import StudentCreate
        from services.registry.students.service import enroll

        body = {
            "name": self.rng.choice(NAMES) + "同学",
            "id_number": id_number(i),
            "enrollment": {"school_code": SCHOOL, "stage": "primary", "grade": 1 + i % 6},
        }
        async with self.maker() as session, session.begin():
            student = await enroll(session, self.admin, data=StudentCreate.model_validate(body))
        return student.id

    async def change(self, student_id: uuid.UUID) -> int:
        """Rename a student; return the version the change made (acknowledged on return)."""
        from services.registry.students.schemas import StudentUpdate
        from services.registry.students.service import get_student_or_404, update_student

        async with self.maker() as session, session.begin():
            student = await get_student_or_404(session, self.admin, student_id)
            data = StudentUpdate(
                name=self.rng.choice(NAMES) + f"同学{student.version}", version=student.version
            )
            student = await update_student(session, self.admin, student=student, data=data, if_match=None)
            version = student.version
        return version


async def caught_up(db: asyncpg.Connection, ids: list[uuid.UUID], version: int = 1) -> None:
    """Wait until every projection holds every student (the registration burst applied)."""
    deadline = time.monotonic() + 600
    for table, key in PROJECTIONS.values():
        while await db.fetchval(
            f"SELECT count(*) FROM {table} WHERE {key} = ANY($1::uuid[]) AND version >= $2",  # noqa: S608 (our constants)
            ids,
            version,
        ) < len(ids):
            if time.monotonic() > deadline:
                raise SystemExit(f"{table} did not catch up with the registrations")
            await asyncio.sleep(0.2)


async def one_rate(
    writer: Writer, db: asyncpg.Connection, broker, ids: list[uuid.UUID], rate: int, seconds: float
) -> dict:
    """Write at `rate` for `seconds`; return the lags (s) per projection and the relay's."""
    free = list(ids)
    writer.rng.shuffle(free)
    pending: dict[uuid.UUID, tuple[int, float]] = {}  # student -> (version, acknowledged at)
    lags: dict[str, list[float]] = {name: [] for name in PROJECTIONS}
    seen: dict[str, set] = {name: set() for name in PROJECTIONS}
    relay: list[float] = []
    published: dict[tuple[str, int], float] = {}  # (student, version) -> when the broker delivered it
    acked, skipped = 0, 0
    done_writing = asyncio.Event()

    slots = asyncio.Semaphore(writer.concurrency)  # more in flight would only queue for a connection

    async def write(student_id: uuid.UUID) -> None:
        nonlocal acked
        async with slots:
            version = await writer.change(student_id)
        pending[student_id] = (version, time.monotonic())
        acked += 1

    async def writes() -> None:
        nonlocal skipped
        tasks: set[asyncio.Task] = set()
        start, n = time.monotonic(), int(rate * seconds)
        for i in range(n):
            delay = start + i / rate - time.monotonic()
            if delay > 0:
                await asyncio.sleep(delay)
            if not free:
                skipped += 1  # every student has a change in flight: the writer cannot keep the rate
                continue
            sid = free.pop()
            task = asyncio.create_task(write(sid))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.gather(*tasks)
        done_writing.set()

    async def on_event(msg) -> None:
        env = json.loads(msg.data)
        if env.get("version") is not None:
            published.setdefault((env["subject"], env["version"]), time.monotonic())

    sub = await broker.subscribe("edu.registry.student.>", cb=on_event)

    async def poll() -> None:
        while not (done_writing.is_set() and not pending):
            await asyncio.sleep(POLL)
            if not pending:
                continue
            now = time.monotonic()
            sids = list(pending)
            for name, (table, key) in PROJECTIONS.items():
                rows = await db.fetch(
                    f"SELECT {key} AS id, version FROM {table} WHERE {key} = ANY($1::uuid[])",  # noqa: S608
                    sids,
                )
                for row in rows:
                    want = pending.get(row["id"])
                    if want and row["version"] >= want[0] and (row["id"], want[0]) not in seen[name]:
                        seen[name].add((row["id"], want[0]))
                        lags[name].append(now - want[1])
            for sid in sids:
                version, at = pending[sid]
                if (str(sid), version) in published and (sid, version, "relay") not in seen["statistics"]:
                    seen["statistics"].add((sid, version, "relay"))
                    relay.append(max(0.0, published[str(sid), version] - at))
                if all((sid, version) in seen[name] for name in PROJECTIONS):
                    del pending[sid]
                    free.append(sid)
            if now - start_all > seconds + 120:
                raise SystemExit(f"{len(pending)} changes not applied 120 s after the writes ended")

    start_all = time.monotonic()
    try:
        await asyncio.gather(writes(), poll())
    finally:
        await sub.unsubscribe()
    elapsed = time.monotonic() - start_all
    return {"lags": lags, "relay": relay, "acked": acked, "skipped": skipped, "elapsed": elapsed}


async def bench(stack: Stack, rates: list[int], seconds: float, students: int, concurrency: int) -> None:
    await setup(stack)
    writer = Writer(concurrency)
    owner = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    db = await asyncpg.connect(owner)
    broker = await nats.connect(stack.env["NOL_NATS_URL"])
    try:
        sem = asyncio.Semaphore(concurrency)

        async def enroll(i: int) -> uuid.UUID:
            async with sem:
                return await writer.enroll(i)

        t = time.monotonic()
        ids = await asyncio.gather(*(enroll(i) for i in range(students)))
        await caught_up(db, ids)
        print(
            f"registered {students:,} students, all projections caught up after {time.monotonic() - t:.1f} s"
        )
        for rate in rates:
            out = await one_rate(writer, db, broker, ids, rate, seconds)
            achieved = out["acked"] / seconds
            print(
                f"\nrate {rate}/s for {seconds:.0f} s: {out['acked']:,} changes acknowledged "
                f"({achieved:,.0f}/s achieved, {out['skipped']} skipped: every student busy)"
            )
            relay = out["relay"]
            print(
                f"  broker (ack -> subscriber)   p50 {percentile(relay, 50) * 1000:7.0f} ms  "
                f"p95 {percentile(relay, 95) * 1000:7.0f} ms  p99 {percentile(relay, 99) * 1000:7.0f} ms"
            )
            result("event_lag", f"{rate}/s: writes acknowledged per second", achieved, "/s")
            result(
                "event_lag",
                f"{rate}/s: ack -> broker delivery p99 (baseline)",
                percentile(relay, 99) * 1000,
                "ms",
            )
            for name, lag in out["lags"].items():
                p50, p95, p99 = (percentile(lag, p) * 1000 for p in (50, 95, 99))
                print(
                    f"  {name:<28} p50 {p50:7.0f} ms  p95 {p95:7.0f} ms  p99 {p99:7.0f} ms  (n={len(lag):,})"
                )
                base = percentile(relay, 99) * 1000
                result(
                    "event_lag",
                    f"{rate}/s: ack -> {name} projection p99",
                    p99,
                    "ms",
                    ratio=p99 / base if base else None,
                    baseline=f"broker delivery p99 {base:.0f} ms; p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                    target="p99 < 1000 ms at 1000/s" if rate >= 1000 else None,
                )
    finally:
        await broker.close()
        await db.close()
        await writer.engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rates", default="100,300,1000", help="writes per second, comma-separated")
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument("--students", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=24, help="database connections of the writer")
    args = parser.parse_args()
    rates = [int(x) for x in args.rates.split(",")]
    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-"))
    for name in ("NOL_DATABASE_URL", "NOL_NATS_URL", "NOL_DATA_KEY"):
        os.environ.pop(name, None)
    env = {
        "NOL_ADMIN_USERNAME": ADMIN[0],
        "NOL_ADMIN_PASSWORD": ADMIN[1],
        "NOL_ADMIN_AREA": "61",
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_LOG_LEVEL": "WARNING",
        "NOL_DEMO": "0",
        "NOL_DATA_DIR": str(tmp),
    }
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs")
    try:
        stack.start()
        os.environ.update(stack.env)
        print("stack: every service (relays in process), embedded PostgreSQL/NATS")
        asyncio.run(bench(stack, rates, args.seconds, args.students, args.concurrency))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
