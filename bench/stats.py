# ruff: noqa: S608 - the SQL is built from this module's own constants
"""Figures on a province-size projection: p50/p95 of the subsidy and enrollment figures.

    .venv/bin/python bench/stats.py [--students 5000000] [--payments-per-student 2] [--runs 30]
                                    [--keep DIR] [--only county]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS), fills the statistics service's
projections directly with SQL as the owner (what events would have put there: N students over
one province of 10 cities × 10 counties × 10 townships, and two paid disbursements per student
by default: 5,000,000 students and 10,000,000 payments), ANALYZEs (VACUUMs the rollups), then asks
the gateway for the subsidy and enrollment figures of one county and of the whole province, and a
county's breakdown by village, `--runs` times each (a sixth of that, at least 3, for the province).
The figures read rollups (services/statistics/figures/rollups.py): the fill writes the facts with the
rollup triggers off and builds the rollups set-wise afterwards, as `POST /api/v1/stats/rebuild/rollups`
does. `--keep DIR` keeps the stack's data dir (filled once, reused by later runs of the same size:
migrations still run on it); `--only county` or `--only province` measures one scope.
Prints p50/p95 per figure and scope; a request that fails (504) is reported as timed out.
Targets (issue 17): p95 under 100 ms for a county, 2 s for the province's subsidy figure, 1 s for its
enrollment figure.
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
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import result
from deploy.stack import Stack

ADMIN = ("admin", "Admin-bench-2026")
PROVINCE, COUNTY = "61", "610101"


def machine() -> str:
    with open("/proc/meminfo") as f:
        mem = next(int(line.split()[1]) for line in f if line.startswith("MemTotal")) / 1024 / 1024
    return (
        f"{platform.machine()}, {os.cpu_count()} CPU(s), {mem:.1f} GiB RAM, "
        f"Python {platform.python_version()}"
    )


# One row per student i: a province of 10 cities × 10 counties × 10 townships, 20 villages per township
# (a household's children live in its village) and 10 schools per township (each serving two villages).
PEOPLE = """
SELECT i, md5('s' || i)::uuid AS student_id, md5('h' || (i / 2))::uuid AS household_id, t AS area_code,
       t || lpad((200 + (i / 2) % 20)::text, 3, '0') AS village_code,
       '21' || substr(t, 3, 7) || ((i / 2) % 20 / 2)::text AS school_code,
       (ARRAY['primary','primary','junior','senior','preschool'])[1 + i % 5] AS stage,
       CASE WHEN i % 4 = 0 THEN ARRAY['registered_poor'] WHEN i % 7 = 0 THEN ARRAY['dibao','disabled']
            ELSE ARRAY[]::varchar[] END AS categories
FROM (SELECT i, '61' || lpad((1 + (i / 1000) % 100 / 10)::text, 2, '0')
                     || lpad((1 + (i / 1000) % 10)::text, 2, '0')
                     || lpad((100 + (i / 100) % 10)::text, 3, '0') AS t
      FROM generate_series($1::bigint, $2::bigint - 1) AS i) s
"""
FILL = f"""
INSERT INTO statistics.student_fact (student_id, name, gender, birth_date, village_code, area_code,
                                     school_code, stage, grade, boarding, status, categories, groups, version,
                                     updated_at, household_id)
SELECT student_id, '学生' || i, CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END,
       date '2012-01-01' + (i % 3000)::int, village_code, area_code, school_code, stage, 1 + i % 6, i % 3 = 0,
       CASE WHEN i % 50 = 0 THEN 'suspended' ELSE 'enrolled' END, categories, ARRAY[]::varchar[], 1, now(),
       household_id
FROM ({PEOPLE}) s
"""
PAY = f"""
INSERT INTO statistics.payment_fact (disbursement_id, student_id, household_id, policy_code, policy_kind,
                                     semester, year, amount_fen, school_code, area_code, village_code, stage,
                                     categories, status, paid_on, version)
SELECT md5('p' || s.student_id || k)::uuid, s.student_id, s.household_id, 'CN-LIVING-' || k,
       CASE WHEN k = 0 THEN 'living_allowance' ELSE 'grant' END,
       CASE WHEN k % 2 = 0 THEN '2026-spring' ELSE '2026-autumn' END, 2026, 62500 + k * 12500,
       s.school_code, s.area_code, s.village_code, s.stage, s.categories, 'paid', date '2026-06-01', 1
FROM ({PEOPLE}) s CROSS JOIN generate_series(0, $3 - 1) AS k
"""
CHUNK = 500_000


async def fill(owner_url: str, students: int, per_student: int) -> dict[str, float]:
    """Fill the facts in chunks with the rollup triggers off (as a projection rebuild empties them),
    then build the rollups set-wise as `POST /stats/rebuild/rollups` does, and ANALYZE (the
    rollups: VACUUM ANALYZE, `settle`)."""
    settings = {"nol.scope": "system", "nol.rollups": "off"}
    conn = await asyncpg.connect(owner_url, server_settings=settings)
    times = {}
    try:
        t = time.perf_counter()
        for lo in range(0, students, CHUNK):
            await conn.execute(FILL, lo, min(lo + CHUNK, students))
        times["fill students"] = time.perf_counter() - t
        t = time.perf_counter()
        for lo in range(0, students, CHUNK):
            await conn.execute(PAY, lo, min(lo + CHUNK, students), per_student)
        times["fill payments"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("SET nol.rollups = 'on'")
        await conn.execute("SELECT statistics.rebuild_rollups()")
        times["build rollups"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("ANALYZE statistics.student_fact; ANALYZE statistics.payment_fact")
        await settle(owner_url)
        times["analyze"] = time.perf_counter() - t
        sizes = {table: await conn.fetchval(f"SELECT count(*) FROM statistics.{table}") for table in ROLLUPS}
        print("rollup rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()), flush=True)
    finally:
        await conn.close()
    return times


ROLLUPS = (
    "payment_cell",
    "payment_member",
    "payment_person",
    "payment_household",
    "enrollment_cell",
    "enrollment_household",
)


async def settle(owner_url: str) -> None:
    """VACUUM ANALYZE the rollups, as autovacuum does after a bulk load: statistics for the planner,
    and the visibility map that lets an index-only scan (the covering indexes) skip the heap."""
    conn = await asyncpg.connect(owner_url)
    try:
        for table in ROLLUPS:
            await conn.execute(f"VACUUM (ANALYZE) statistics.{table}")
    finally:
        await conn.close()


# The largest part of the province-wide subsidy figure from the rollups (figures/rollups.py): the
# households wholly inside the area, written out for EXPLAIN.
PROFILE = """
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT count(*) FROM statistics.payment_household WHERE year = 2026 AND area_code ^@ $1
"""


async def profile(owner_url: str, area: str) -> list[str]:
    conn = await asyncpg.connect(owner_url)
    try:
        return [r[0] for r in await conn.fetch(PROFILE, area)]
    finally:
        await conn.close()


TIMED_OUT = "timed out"


async def measure(
    gateway: str, runs: int, only: str | None = None
) -> list[tuple[str, str, float, float, dict]]:
    """p50/p95 per figure and scope; a request answered with an error (504: slower than the gateway's
    upstream timeout) is reported as timed out with its time, never as a number of the figure."""
    out = []
    async with httpx.AsyncClient(base_url=gateway, timeout=300) as client:
        resp = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
        )
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        cases = (
            ("subsidy", "county", COUNTY, {"year": 2026}),
            ("subsidy", "province", PROVINCE, {"year": 2026}),
            ("enrollment", "county", COUNTY, {}),
            ("enrollment", "province", PROVINCE, {}),
            ("subsidy by village", "county", COUNTY, {"year": 2026, "group_by": "village"}),
            ("enrollment by village", "county", COUNTY, {"group_by": "village"}),
        )
        for figure, label, area, params in cases:
            if only and label != only:
                continue
            samples, body, failed = [], {}, None
            name = figure.split()[0]
            for i in range(runs if label == "county" else max(3, runs // 6)):
                t = time.perf_counter()
                r = await client.get(
                    f"/api/v1/stats/{name}", headers=headers, params={**params, "area_code": area}
                )
                elapsed = time.perf_counter() - t
                if r.status_code != 200:  # e.g. 504: slower than the gateway's upstream timeout
                    failed = f"HTTP {r.status_code} after {elapsed:.1f} s"
                    print(f"{figure} {label}: {TIMED_OUT}: {failed}", flush=True)
                    samples = [elapsed]
                    break
                if i:  # the first call warms caches
                    samples.append(elapsed)
                body = r.json()
            p50 = statistics.median(samples) * 1000
            p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)] * 1000
            if failed is None:
                groups = len(body.get("groups", {}))
                extra = f", {groups} groups" if groups else ""
                print(f"{figure} {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms{extra}", flush=True)
            out.append((figure, label, p50, p95, body if failed is None else {"failed": failed}))
    return out


TARGETS = {
    ("subsidy", "county"): 100,
    ("subsidy", "province"): 2000,
    ("enrollment", "county"): 100,
    ("enrollment", "province"): 1000,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=5_000_000)
    ap.add_argument("--payments-per-student", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    ap.add_argument("--keep", type=Path, help="data dir to keep and reuse (filled once per size)")
    ap.add_argument("--only", choices=("county", "province"), help="measure one scope only")
    args = ap.parse_args()
    tmp = args.keep.resolve() if args.keep else Path(tempfile.mkdtemp(prefix="nol-bench-stats-"))
    filled = tmp / "filled"
    size = f"{args.students} {args.payments_per_student}"
    env = {
        "NOL_ADMIN_USERNAME": ADMIN[0],
        "NOL_ADMIN_PASSWORD": ADMIN[1],
        "NOL_ADMIN_AREA": PROVINCE,
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_LOG_LEVEL": "WARNING",
        "NOL_DATA_DIR": str(tmp),
    }
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs")
    try:
        stack.start()
        owner = (
            make_url(stack.env["NOL_DATABASE_URL"])
            .set(drivername="postgresql")
            .render_as_string(hide_password=False)
        )
        if args.keep and filled.exists() and filled.read_text() == size:
            times = {"fill": 0.0}  # kept from an earlier run
            asyncio.run(settle(owner))
        else:
            filled.unlink(missing_ok=True)
            times = asyncio.run(fill(owner, args.students, args.payments_per_student))
            if args.keep:
                filled.write_text(size)
        results = asyncio.run(measure(stack.url(), args.runs, args.only))
        plan = asyncio.run(profile(owner, PROVINCE))
    finally:
        stack.stop()
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    print("profile of the province-wide households count (EXPLAIN ANALYZE, as the owner):")
    for line in plan:
        print(f"  {line}")
    print(f"machine: {machine()}")
    print(
        f"projection: {args.students:,} students, {args.students * args.payments_per_student:,} payments; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
    )
    print(f"{'figure':<23}{'scope':<10}{'p50 ms':>9}{'p95 ms':>9}  students  person_times")
    for figure, label, p50, p95, body in results:
        if "failed" in body:
            print(f"{figure:<23}{label:<10}  {TIMED_OUT}: {body['failed']}")
            continue
        print(
            f"{figure:<23}{label:<10}{p50:>9.1f}{p95:>9.1f}  {body.get('students', ''):>8}  "
            f"{body.get('person_times', '')}"
        )
    missed = []
    for figure, label, p50, p95, body in results:
        limit = TARGETS.get((figure, label), 100 if label == "county" else None)
        target = f"p95 < {limit:,} ms" if limit else None
        suffix = f" ({TIMED_OUT}: {body['failed']})" if "failed" in body else ""
        result("stats", f"{figure} figure, {label}, p50{suffix}", p50, "ms")
        result("stats", f"{figure} figure, {label}, p95{suffix}", p95, "ms", target=target)
        if limit and (suffix or p95 >= limit):
            missed.append(f"{figure} {label}")
    print("targets: " + ("all met" if not missed else "NOT met: " + ", ".join(missed)))


if __name__ == "__main__":
    main()
