"""Figures on a province-size projection: p50/p95 of the subsidy and enrollment figures.

    .venv/bin/python bench/stats.py [--students 5000000] [--payments-per-student 2] [--runs 30]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS), fills the statistics service's
projections directly with SQL as the owner (what events would have put there: N students over
one province of 10 cities × 10 counties × 10 townships, and two paid disbursements per student
by default: 5,000,000 students and 10,000,000 payments), ANALYZEs, then asks the gateway for the
subsidy and enrollment figures of one county and of the whole province, `--runs` times each.
Prints p50/p95 per figure and scope. Target (issue 6): p95 under 100 ms for a county.
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


FILL = """
INSERT INTO statistics.student_fact (student_id, name, gender, birth_date, village_code, area_code,
                                     school_code, stage, grade, boarding, status, categories, groups, version,
                                     updated_at, household_id)
SELECT md5('s' || i)::uuid, '学生' || i, CASE WHEN i % 2 = 0 THEN 'male' ELSE 'female' END,
       date '2012-01-01' + (i % 3000), t || lpad((200 + i % 20)::text, 3, '0'), t,
       '21' || '61' || lpad((i % 100000)::text, 6, '0'),
       (ARRAY['primary','primary','junior','senior','preschool'])[1 + i % 5], 1 + i % 6, i % 3 = 0,
       CASE WHEN i % 50 = 0 THEN 'suspended' ELSE 'enrolled' END,
       CASE WHEN i % 4 = 0 THEN ARRAY['registered_poor'] WHEN i % 7 = 0 THEN ARRAY['dibao','disabled']
            ELSE ARRAY[]::varchar[] END,
       ARRAY[]::varchar[], 1, now(), md5('h' || (i / 2))::uuid
FROM (SELECT i, '61' || lpad((1 + (i / 1000) % 100 / 10)::text, 2, '0')
                     || lpad((1 + (i / 1000) % 10)::text, 2, '0')
                     || lpad((100 + (i / 100) % 10)::text, 3, '0') AS t
      FROM generate_series(0, $1 - 1) AS i) s
"""
PAY = """
INSERT INTO statistics.payment_fact (disbursement_id, student_id, household_id, policy_code, policy_kind,
                                     semester, year, amount_fen, school_code, area_code, village_code, stage,
                                     categories, status, paid_on, version)
SELECT md5('p' || s.student_id || k)::uuid, s.student_id, s.household_id, 'CN-LIVING-' || k,
       CASE WHEN k = 0 THEN 'living_allowance' ELSE 'grant' END,
       CASE WHEN k % 2 = 0 THEN '2026-spring' ELSE '2026-autumn' END, 2026, 62500 + k * 12500,
       s.school_code, s.area_code, s.village_code, s.stage, s.categories, 'paid', date '2026-06-01', 1
FROM statistics.student_fact s CROSS JOIN generate_series(0, $1 - 1) AS k
"""


async def fill(owner_url: str, students: int, per_student: int) -> dict[str, float]:
    conn = await asyncpg.connect(owner_url)
    times = {}
    try:
        t = time.perf_counter()
        await conn.execute(FILL, students)
        times["fill students"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute(PAY, per_student)
        times["fill payments"] = time.perf_counter() - t
        t = time.perf_counter()
        await conn.execute("ANALYZE statistics.student_fact; ANALYZE statistics.payment_fact")
        times["analyze"] = time.perf_counter() - t
    finally:
        await conn.close()
    return times


# The first of the subsidy figure's two scans (services/statistics/figures/queries.py), written
# out for EXPLAIN: the profile that says where a province-wide figure spends its time.
PROFILE = """
EXPLAIN (ANALYZE, BUFFERS, COSTS OFF)
SELECT stage, semester, policy_kind, grouping(stage, semester, policy_kind), count(*),
       count(DISTINCT student_id), coalesce(sum(amount_fen), 0), count(DISTINCT household_id)
FROM statistics.payment_fact
WHERE status = 'paid' AND area_code ^@ $1 AND year = 2026
GROUP BY GROUPING SETS ((), (stage), (semester), (policy_kind))
"""


async def profile(owner_url: str, area: str) -> list[str]:
    conn = await asyncpg.connect(owner_url)
    try:
        return [r[0] for r in await conn.fetch(PROFILE, area)]
    finally:
        await conn.close()


async def measure(gateway: str, runs: int) -> list[tuple[str, str, float, float, dict]]:
    out = []
    async with httpx.AsyncClient(base_url=gateway, timeout=300) as client:
        resp = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
        )
        headers = {"Authorization": f"Bearer {resp.json()['access_token']}"}
        for figure, params in (("subsidy", {"year": 2026}), ("enrollment", {})):
            for label, area in (("county", COUNTY), ("province", PROVINCE)):
                samples, body = [], {}
                for i in range(runs if label == "county" else max(3, runs // 6)):
                    t = time.perf_counter()
                    r = await client.get(
                        f"/api/v1/stats/{figure}", headers=headers, params={**params, "area_code": area}
                    )
                    if r.status_code != 200:  # e.g. 504: slower than the gateway's upstream timeout
                        print(
                            f"{figure} {label}: {r.status_code} after {time.perf_counter() - t:.1f} s",
                            flush=True,
                        )
                        samples = [float("nan")]
                        break
                    if i:  # the first call warms caches
                        samples.append(time.perf_counter() - t)
                    body = r.json()
                p50 = statistics.median(samples) * 1000
                p95 = sorted(samples)[max(0, int(len(samples) * 0.95) - 1)] * 1000
                print(f"{figure} {label}: p50 {p50:.1f} ms, p95 {p95:.1f} ms", flush=True)
                out.append((figure, label, p50, p95, body))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=5_000_000)
    ap.add_argument("--payments-per-student", type=int, default=2)
    ap.add_argument("--runs", type=int, default=30)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-stats-"))
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
        times = asyncio.run(fill(owner, args.students, args.payments_per_student))
        results = asyncio.run(measure(stack.url(), args.runs))
        plan = asyncio.run(profile(owner, PROVINCE))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    print("profile of the province-wide subsidy scan (EXPLAIN ANALYZE, as the owner):")
    for line in plan:
        print(f"  {line}")
    print(f"machine: {machine()}")
    print(
        f"projection: {args.students:,} students, {args.students * args.payments_per_student:,} payments; "
        + ", ".join(f"{k} {v:.1f} s" for k, v in times.items())
    )
    print(f"{'figure':<11}{'scope':<10}{'p50 ms':>9}{'p95 ms':>9}  students  person_times")
    for figure, label, p50, p95, body in results:
        print(
            f"{figure:<11}{label:<10}{p50:>9.1f}{p95:>9.1f}  {body.get('students', ''):>8}  "
            f"{body.get('person_times', '')}"
        )
    for figure, label, p50, p95, _ in results:
        target = "p95 < 100 ms" if label == "county" else None
        result("stats", f"{figure} figure, {label}, p50", p50, "ms")
        result("stats", f"{figure} figure, {label}, p95", p95, "ms", target=target)
    county_p95 = max(p95 for _, label, _, p95, _ in results if label == "county")
    print(
        f"county p95 worst: {county_p95:.1f} ms (target < 100 ms): {'met' if county_p95 < 100 else 'NOT met'}"
    )


if __name__ == "__main__":
    main()
