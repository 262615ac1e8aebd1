"""Subsidy batches: generate, approve and pay lines for N eligible students across S schools, against
a single SQL `INSERT ... SELECT` of the same lines, on the same PostgreSQL in the same run.

    .venv/bin/python bench/batches.py [--students 50000] [--schools 100] [--runs 3] [--concurrency 8]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS), creates through the API a county,
ten townships, the schools and a user for each (school, township, county), and waits for the
subsidy service to project the schools from the registry's events. The students are written
straight into the subsidy service's projection (`subsidy.student`; registering 50,000 students
through the registry is what bench/import_students.py measures), N eligible plus 10% who are not
(no aid category), so every batch also lists its exclusions.

Per run, a new policy (so runs do not collide), then for every school through the gateway:
POST /subsidy/batches (lines and exclusions generated), /submit (公示 posted five days ago),
/approve by the township, /approve by the county, /pay (one `disbursement.paid` event per line).
Baseline: one `INSERT INTO subsidy.disbursement ... SELECT ... FROM subsidy.student` of the same
N lines, in a transaction rolled back afterwards. Prints medians, lines/s and the ratios.
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
from datetime import timedelta
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import result
from deploy.stack import Stack
from services.contracts.calendar import today
from services.subsidy.domain import current_semester

ADMIN = ("admin", "Admin-bench-2026")
PASSWORD = "Bench-user-2026"  # noqa: S105 - a throwaway stack's users
COUNTY = "610928"
SEMESTER = current_semester()
POSTED = (today() - timedelta(days=5)).isoformat()  # the deployment's day (Asia/Shanghai), not UTC's
PHASES = [0.0, 0.0, 0.0, 0.0]  # seconds spent in submit, township approval, county approval, pay

BASELINE = """
INSERT INTO subsidy.disbursement (batch_id, kind, student_id, student_name, id_number_masked, household_id,
    school_code, area_code, village_code, stage, grade, boarding, categories, policy_code, policy_id,
    policy_kind, semester, amount_fen, status, version)
SELECT $1::uuid, 'regular', s.student_id, s.name, s.id_number_masked, s.household_id, s.school_code,
    s.area_code, s.village_code, s.stage, s.grade, s.boarding, s.categories, 'BASELINE', $2::uuid,
    'living_allowance', $3, 62500, 'draft', 1
FROM subsidy.student s
WHERE s.school_code LIKE '21619%' AND s.status = 'enrolled' AND s.stage = 'primary' AND s.boarding
    AND s.categories && ARRAY['registered_poor']::varchar[]
"""


def machine() -> str:
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{platform.machine()}, {os.cpu_count()} CPU(s), {mem} RAM, Python {platform.python_version()}"


def townships(n: int = 10) -> list[str]:
    return [f"{COUNTY}{100 + i:03d}" for i in range(n)]


def school_code(i: int) -> str:
    return f"21619{i:05d}"


class Client:
    """One logged-in user of the gateway."""

    def __init__(self, http: httpx.AsyncClient, token: str):
        self.http, self.headers = http, {"Authorization": f"Bearer {token}"}

    @classmethod
    async def login(cls, http: httpx.AsyncClient, username: str, password: str) -> "Client":
        resp = await http.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        resp.raise_for_status()
        return cls(http, resp.json()["access_token"])

    async def call(self, method: str, path: str, status: int = 200, **kw) -> dict:
        resp = await self.http.request(method, path, headers=self.headers, **kw)
        if resp.status_code != status:
            raise SystemExit(f"{method} {path}: {resp.status_code} {resp.text[:500]}")
        return resp.json()


async def setup(http: httpx.AsyncClient, admin: Client, n_schools: int) -> tuple[dict, dict, Client]:
    """Areas, schools and users through the API; returns school and township clients, and the county's."""
    areas = [{"code": COUNTY, "name": "旬阳市"}] + [{"code": t, "name": f"第{t[-2:]}镇"} for t in townships()]
    await admin.call("POST", "/api/v1/areas", 201, json=areas)
    sem = asyncio.Semaphore(8)

    async def user(role: str, area: str, school: str | None = None) -> Client:
        name = f"{role}_{school or area}"
        body = {"username": name, "password": PASSWORD, "role": role, "area_code": area}
        async with sem:
            await admin.call(
                "POST", "/api/v1/users", 201, json=body | ({"school_code": school} if school else {})
            )
            return await Client.login(http, name, PASSWORD)

    async def school(i: int) -> tuple[str, Client]:
        code, area = school_code(i), townships()[i % 10]
        body = {"code": code, "name": f"第{i + 1}小学", "area_code": area, "stages": ["primary"]}
        async with sem:
            await admin.call("POST", "/api/v1/schools", 201, json=body)
        return code, await user("school", area, code)

    schools = dict(await asyncio.gather(*(school(i) for i in range(n_schools))))
    town_users = dict(
        zip(townships(), await asyncio.gather(*(user("township", t) for t in townships())), strict=True)
    )
    return schools, town_users, await user("county", COUNTY)


async def seed_students(conn: asyncpg.Connection, n: int, n_schools: int) -> None:
    """Write N eligible students (and 10% ineligible) into the subsidy projection, spread over the schools."""
    extra = n // 10
    await conn.execute(
        """
        INSERT INTO subsidy.student (student_id, name, id_number_masked, school_code, area_code, village_code,
            stage, grade, boarding, status, categories, version, updated_at)
        SELECT gen_random_uuid(), '学生' || i, '610928********' || lpad((i % 10000)::text, 4, '0'),
            '21619' || lpad((i % $3::int)::text, 5, '0'),
            '610928' || lpad((100 + (i % $3::int) % 10)::text, 3, '0'),
            '610928' || lpad((100 + (i % $3::int) % 10)::text, 3, '0') || '201',
            'primary', 1 + i % 6, true, 'enrolled',
            CASE WHEN i < $1::int THEN ARRAY['registered_poor']::varchar[] ELSE ARRAY[]::varchar[] END,
            1, now()
        FROM generate_series(0, $1::int + $2::int - 1) AS i
        """,
        n,
        extra,
        n_schools,
    )
    await conn.execute("ANALYZE subsidy.student")


async def wait_schools(conn: asyncpg.Connection, n: int) -> None:
    started = time.perf_counter()
    while await conn.fetchval("SELECT count(*) FROM subsidy.school WHERE code LIKE '21619%'") < n:
        if time.perf_counter() - started > 120:
            raise SystemExit("the subsidy service did not project the schools")
        await asyncio.sleep(0.2)


async def one_run(
    run: int, admin: Client, schools: dict, town_users: dict, county: Client, concurrency: int
) -> tuple[float, float, int, int]:
    """Generate, approve and pay every school's batch; return (generate s, total s, lines, fen)."""
    policy = await admin.call(
        "POST",
        "/api/v1/subsidy/policies",
        201,
        json={
            "code": f"BENCH-{run}-{int(time.time())}",
            "name": "义务教育家庭经济困难寄宿生生活补助（小学）",
            "kind": "living_allowance",
            "stages": ["primary"],
            "categories": ["registered_poor", "dibao", "tekun", "orphan", "disabled"],
            "boarding_only": True,
            "amount_fen": 62500,
            "years": [int(SEMESTER[:4])],
        },
    )
    sem = asyncio.Semaphore(concurrency)
    started = time.perf_counter()

    async def generate(code: str) -> dict:
        body = {"school_code": code, "semester": SEMESTER, "policy_code": policy["code"]}
        async with sem:
            return await schools[code].call("POST", "/api/v1/subsidy/batches", 201, json=body)

    batches = await asyncio.gather(*(generate(code) for code in schools))
    generated = time.perf_counter() - started

    async def approve_and_pay(batch: dict) -> dict:
        url = f"/api/v1/subsidy/batches/{batch['id']}"
        pay = {"paid_on": today().isoformat(), "reference": f"BENCH-{run}"}
        steps = [
            ("submit", schools[batch["school_code"]], {"publicity_start": POSTED}),
            ("approve", town_users[batch["area_code"]], None),
            ("approve", county, None),
            ("pay", county, pay),
        ]
        async with sem:
            for i, (action, user, body) in enumerate(steps):
                t0 = time.perf_counter()
                out = await user.call("POST", f"{url}/{action}", json=body)
                PHASES[i] += time.perf_counter() - t0
            return out

    paid = await asyncio.gather(*(approve_and_pay(b) for b in batches))
    total = time.perf_counter() - started
    return generated, total, sum(b["line_count"] for b in paid), sum(b["total_fen"] for b in paid)


async def baseline(conn: asyncpg.Connection) -> tuple[float, int]:
    """One INSERT ... SELECT of the same lines (rolled back): what storing them costs at the least."""
    batch_id = await conn.fetchval("SELECT id FROM subsidy.batch LIMIT 1")
    policy_id = await conn.fetchval("SELECT id FROM subsidy.policy LIMIT 1")
    tr = conn.transaction()
    await tr.start()
    started = time.perf_counter()
    status = await conn.execute(BASELINE, batch_id, policy_id, SEMESTER)
    seconds = time.perf_counter() - started
    await tr.rollback()
    return seconds, int(status.split()[-1])


async def bench(stack: Stack, n: int, n_schools: int, runs: int, concurrency: int) -> None:
    owner = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(owner)
    async with httpx.AsyncClient(base_url=stack.url(), timeout=300) as http:
        admin = await Client.login(http, *ADMIN)
        schools, town_users, county = await setup(http, admin, n_schools)
        await wait_schools(conn, n_schools)
        await seed_students(conn, n, n_schools)
        gens, totals, bases = [], [], []
        for run in range(runs):
            generated, total, lines, fen = await one_run(run, admin, schools, town_users, county, concurrency)
            if lines != n or fen != n * 62500:
                raise SystemExit(f"run {run}: {lines} lines, {fen} fen; expected {n}, {n * 62500}")
            base, base_lines = await baseline(conn)
            if base_lines != n:
                raise SystemExit(f"baseline inserted {base_lines} lines, expected {n}")
            gens.append(generated)
            totals.append(total)
            bases.append(base)
            print(
                f"run {run + 1}: generate {generated:.2f} s, generate+approve+pay {total:.2f} s, "
                f"INSERT ... SELECT {base:.3f} s",
                flush=True,
            )
        await conn.close()
    g, t, b = statistics.median(gens), statistics.median(totals), statistics.median(bases)
    print(f"\nmachine: {machine()}")
    print(f"{n} eligible students (+{n // 10} not eligible) in {n_schools} schools, {runs} runs, medians:")
    print(f"  generate (POST /batches)           {g:8.2f} s  {n / g:10.0f} lines/s  ratio {g / b:6.1f}x")
    print(f"  generate + approve x2 + pay        {t:8.2f} s  {n / t:10.0f} lines/s  ratio {t / b:6.1f}x")
    print(f"  baseline: one INSERT ... SELECT    {b:8.3f} s  {n / b:10.0f} lines/s")
    print("  (ratio = time through the API, all rules, exclusions and events / the bare INSERT ... SELECT)")
    base = f"one INSERT ... SELECT of the same lines {b:.3f} s"
    result("batches", f"generate ({n:,} lines, {n_schools} schools)", g, "s", ratio=g / b, baseline=base)
    result("batches", f"generate + approve x2 + pay ({n:,} lines)", t, "s", ratio=t / b, baseline=base,
           target="<= 5")  # fmt: skip
    names = ("submit", "township approval", "county approval", "pay")
    print(
        "  request time per step, all runs: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in zip(names, PHASES, strict=True))
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--students", type=int, default=50_000)
    parser.add_argument("--schools", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-batches-"))
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
        print("starting the stack…", flush=True)
        stack.start()
        asyncio.run(bench(stack, args.students, args.schools, args.runs, args.concurrency))
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
