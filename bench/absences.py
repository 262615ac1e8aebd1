"""One day of absences for a county, posted in bulk, against a plain bulk insert of the same rows.

    .venv/bin/python bench/absences.py [--students 100000] [--absent 0.05] [--runs 3] [--chunk 1000]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS; the dropout service and the
gateway), puts N students of one county into the dropout service's student projection (what the
registry's events would have put there; registering them is the import bench's business), and per
run, on a Wednesday of its own with its own 5% of the students:

- seeds Monday's and Tuesday's unexplained absences for some of them (so that Wednesday's post
  reaches three consecutive days and opens their cases);
- posts Wednesday's absences (40% unexplained, the rest sick or leave) through the gateway, in
  lists of `--chunk`, one after the other; each request stores its rows, writes one event per row
  to the outbox, applies the rules (reminders, cases, their events and tasks) and commits;
- measures rows/s, how long until every resulting case exists (visible through
  GET /api/v1/dropout/cases), and until the relay has published every event;
- baseline: the same rows inserted with one pipelined INSERT statement (asyncpg executemany)
  into a table LIKE dropout.absence (same indexes), and with COPY.

Prints the medians and the ratios.
"""

import argparse
import asyncio
import os
import platform
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import result
from deploy.stack import Stack

ADMIN = ("admin", "Admin-bench-2026")
COUNTY = "610928"
SCHOOLS = 100
FIRST_WEDNESDAY = date(2026, 9, 9)
UNEXPLAINED_SHARE = 0.4  # of the day's absences
STREAK_SHARE = 0.125  # of the unexplained: absent Monday and Tuesday too, so a case opens
STUDENT_COLUMNS = ("id", "name", "school_code", "area_code", "village_code", "household_id", "stage",
                   "grade", "status", "birth_date", "groups", "categories", "disability", "version",
                   "updated_at")  # fmt: skip


def machine() -> str:
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{platform.machine()}, {os.cpu_count()} CPU(s), {mem} RAM, Python {platform.python_version()}"


def students(n: int) -> list[tuple]:
    """The projection rows: 100 nine-year schools in 20 townships, one village per school."""
    now = datetime.now(UTC)
    out = []
    for i in range(n):
        school = i % SCHOOLS
        township = f"{COUNTY}{100 + school % 20:03d}"
        grade = i % 9 + 1
        stage, g = ("primary", grade) if grade <= 6 else ("junior", grade - 6)
        birth = date(2020 - grade, 1 + i % 12, 1 + i % 28)
        village = f"{township}{200 + school:03d}"
        out.append((uuid.uuid4(), f"学生{i}", f"3161{school:06d}", township, village, None,
                    stage, g, "enrolled", birth, [], [], None, 1, now))  # fmt: skip
    return out


def day_of(run: int) -> date:
    return FIRST_WEDNESDAY + timedelta(weeks=run)


def plan(ids: list[uuid.UUID], absent: int, run: int) -> tuple[list[dict], list[tuple]]:
    """Wednesday's absences of this run's students, and the seeded Monday/Tuesday rows."""
    chosen = ids[run * absent : (run + 1) * absent]
    wednesday = day_of(run)
    unexplained = int(absent * UNEXPLAINED_SHARE)
    streak = int(unexplained * STREAK_SHARE)
    posts, seeded = [], []
    for k, sid in enumerate(chosen):
        reason = "unexplained" if k < unexplained else ("sick" if k % 2 else "leave")
        posts.append({"student_id": str(sid), "date": wednesday.isoformat(), "reason": reason})
        if k < streak:
            for back in (1, 2):
                seeded.append((uuid.uuid4(), sid, wednesday - timedelta(days=back), "unexplained"))
    return posts, seeded


async def seed(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    await conn.copy_records_to_table("student", schema_name="dropout", columns=STUDENT_COLUMNS, records=rows)
    await conn.execute("ANALYZE dropout.student")


async def seed_prior(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Monday's and Tuesday's absences, as if posted on those days (school and area from the projection)."""
    await conn.execute(
        """INSERT INTO dropout.absence (id, student_id, date, reason, school_code, area_code, village_code,
                                        recorded_by, version)
           SELECT r.id, r.student_id, r.date, r.reason, s.school_code, s.area_code, s.village_code, 'bench', 1
           FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[]) AS r(id, student_id, date, reason)
           JOIN dropout.student s ON s.id = r.student_id""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], [r[3] for r in rows],
    )  # fmt: skip


async def post_day(
    client: httpx.AsyncClient, headers: dict, posts: list[dict], chunk: int
) -> tuple[float, int]:
    started, opened = time.perf_counter(), 0
    for i in range(0, len(posts), chunk):
        resp = await client.post("/api/v1/attendance/absences", json=posts[i : i + chunk], headers=headers)
        if resp.status_code != 200:
            raise SystemExit(f"post refused: {resp.status_code} {resp.text[:500]}")
        body = resp.json()
        if body["failed"]:
            raise SystemExit(f"items failed: {[x for x in body['items'] if x['result'] == 'error'][:3]}")
        opened += body["cases_opened"]
    return time.perf_counter() - started, opened


async def cases_visible(
    client: httpx.AsyncClient, headers: dict, day: date, expected: int, started: float
) -> float:
    """Seconds from the first post until the API lists every case opened on the day."""
    while True:
        seen, cursor = 0, None
        while True:
            params = {"opened_from": day.isoformat(), "opened_to": day.isoformat(), "limit": 500}
            if cursor:
                params["cursor"] = cursor
            page = (await client.get("/api/v1/dropout/cases", params=params, headers=headers)).json()
            seen += len(page["items"])
            cursor = page["next_cursor"]
            if not cursor:
                break
        if seen >= expected:
            return time.perf_counter() - started
        await asyncio.sleep(0.05)


async def relayed(conn: asyncpg.Connection, started: float) -> float:
    while True:
        if not await conn.fetchval("SELECT count(*) FROM dropout.outbox WHERE published_at IS NULL"):
            return time.perf_counter() - started
        await asyncio.sleep(0.05)


async def baselines(conn: asyncpg.Connection, posts: list[dict], ids: dict) -> tuple[float, float]:
    """The same rows into a table LIKE dropout.absence: one pipelined INSERT, then COPY."""
    now = datetime.now(UTC)
    rows = [
        (uuid.uuid4(), uuid.UUID(p["student_id"]), date.fromisoformat(p["date"]), p["reason"], None,
         *ids[p["student_id"]], "bench", 1, now, now)
        for p in posts
    ]  # fmt: skip
    times = []
    for how in ("insert", "copy"):
        await conn.execute("DROP TABLE IF EXISTS public.bench_absence")
        await conn.execute("CREATE TABLE public.bench_absence (LIKE dropout.absence INCLUDING ALL)")
        started = time.perf_counter()
        if how == "insert":
            await conn.executemany(
                "INSERT INTO public.bench_absence (id, student_id, date, reason, note, school_code,"
                " area_code, village_code, recorded_by, version, created_at, updated_at)"
                " VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                rows,
            )
        else:
            await conn.copy_records_to_table("bench_absence", schema_name="public", records=rows)
        times.append(time.perf_counter() - started)
    await conn.execute("DROP TABLE public.bench_absence")
    return times[0], times[1]


async def bench(stack: Stack, n: int, share: float, runs: int, chunk: int) -> None:
    owner = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(owner)
    rows = students(n)
    await seed(conn, rows)
    places = {str(r[0]): (r[2], r[3], r[4]) for r in rows}
    ids = [r[0] for r in rows]
    absent = int(n * share)
    results = []
    async with httpx.AsyncClient(base_url=stack.url(), timeout=300) as client:
        resp = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
        )
        resp.raise_for_status()
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        for run in range(runs):
            posts, prior = plan(ids, absent, run)
            await seed_prior(conn, prior)
            expected = len(prior) // 2
            insert, copy = await baselines(conn, posts, places)
            started = time.perf_counter()
            posted, opened = await post_day(client, headers, posts, chunk)
            cases = await cases_visible(client, headers, day_of(run), expected, started)
            events = await relayed(conn, started)
            if opened != expected:
                raise SystemExit(f"expected {expected} cases, the posts opened {opened}")
            results.append((posted, cases, events, insert, copy))
            print(
                f"  run {run + 1} ({day_of(run)}): {len(posts):,} absences in {posted:.2f} s "
                f"({len(posts) / posted:,.0f} rows/s), {opened} cases listed after {cases:.2f} s, "
                f"all {len(posts) + opened:,}+ events relayed after {events:.2f} s; "
                f"plain INSERT {insert:.3f} s, COPY {copy:.3f} s"
            )
    await conn.close()
    posted, cases, events, insert, copy = (statistics.median(x) for x in zip(*results, strict=True))
    print(f"\nmedian of {runs} run(s): {absent:,} absences ({share:.0%} of {n:,} students), lists of {chunk}")
    print(
        f"  POST /api/v1/attendance/absences (rules, events): {posted:6.2f} s  {absent / posted:8,.0f} rows/s"
    )
    print(f"  until every resulting case is listed           : {cases:6.2f} s")
    print(f"  until every event is relayed to JetStream      : {events:6.2f} s")
    print(
        f"  plain INSERT (executemany) into LIKE absence    : {insert:6.3f} s  {absent / insert:8,.0f} rows/s"
        f"   ratio {posted / insert:5.1f}"
    )
    print(
        f"  COPY into LIKE absence                          : {copy:6.3f} s  {absent / copy:8,.0f} rows/s"
        f"   ratio {posted / copy:5.1f}"
    )
    name = f"one day of absences ({absent:,} of {n:,} students), POST with rules and events"
    base = f"plain INSERT (executemany) into LIKE absence {insert:.3f} s"
    result("absences", name, posted, "s", ratio=posted / insert, baseline=base, target="<= 5")
    result("absences", "until every resulting case is listed", cases, "s")
    result("absences", "until every event is relayed to JetStream", events, "s")
    result("absences", "COPY into LIKE absence", copy, "s", ratio=posted / copy, baseline="for reference")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=100_000)
    parser.add_argument("--absent", type=float, default=0.05, help="share of students absent that day")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--chunk", type=int, default=1000, help="absences per request (max 2000)")
    args = parser.parse_args()
    if args.runs * args.absent > 1:
        raise SystemExit("runs × absent must not exceed 1 (each run takes fresh students)")
    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-"))
    for name in ("NOL_DATABASE_URL", "NOL_NATS_URL", "NOL_DATA_KEY"):
        os.environ.pop(name, None)
    os.environ["NOL_DATA_DIR"] = str(tmp)
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
        stack.start_servers()
        stack.migrate()
        for name in ("dropout", "gateway"):
            stack.spawn(name)
        stack.wait_ready(["dropout", "gateway"])
        print("stack: dropout + gateway (relay in process), embedded PostgreSQL/NATS")
        asyncio.run(bench(stack, args.students, args.absent, args.runs, args.chunk))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
