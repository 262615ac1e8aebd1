"""Bulk student import against a raw COPY of the same rows, on the same PostgreSQL in the same run.

    .venv/bin/python bench/import_students.py [--rows 100000] [--runs 3] [--full-stack]
        [--relay process|registry|none]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS; registry and
gateway, or every service with --full-stack; the registry's outbox relay in its
own process as the tests run it, inside the registry, or none), logs in as the
bootstrap admin, and per run:

- import: POST /api/v1/imports with one CSV of N students, poll until `done`
  (validation, encryption, history rows and outbox events included; the relay
  publishes the events meanwhile, as in production);
- baselines, on the same rows: COPY of the CSV as it is into a text table with
  no index (`raw`), and COPY of the final rows (encrypted ID, hash, every
  column) into a table shaped like registry.student with all its indexes
  (`like student`) — what storing those rows costs the database at the least.

Prints the medians and the ratios. Between runs the imported students, their
history and events are removed (after the relay has published them).
"""

import argparse
import asyncio
import io
import json
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
from stdnum.cn import ric

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import result
from deploy.stack import Stack

ADMIN = ("admin", "Admin-bench-2026")
COUNTY, TOWNSHIP = "610928", "610928100"
SCHOOL = "3161000001"
# registry.student's columns, in the order final_rows() builds each row (its migrations' order).
STUDENT_COLUMNS = [
    "id", "name", "id_number_enc", "id_number_hash", "id_number_masked", "gender", "birth_date",
    "student_number", "student_number_enc", "ethnicity", "household_id", "village_code", "groups",
    "disability", "categories", "school_code", "area_code", "stage", "grade", "class_name", "boarding",
    "status", "warnings", "version", "created_at", "updated_at",
]  # fmt: skip
HEADER = ["name", "id_number", "ethnicity", "school_code", "stage", "grade", "class_name", "boarding"]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "小明华伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞平刚桂英"


def machine() -> str:
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    return f"{platform.machine()}, {os.cpu_count()} CPU(s), {mem} RAM, Python {platform.python_version()}"


def make_rows(n: int, run: int) -> list[list[str]]:
    """N students of a nine-year school, unique valid ID numbers (distinct per run)."""
    rows = []
    start = date(2011, 1, 1) + timedelta(days=run * 400)
    for i in range(n):
        birth = start + timedelta(days=i // 900)
        body = f"{COUNTY}{birth:%Y%m%d}{i % 900 + 100:03d}"
        idn = body + ric.calc_check_digit(body + "0")
        age = 2026 - birth.year
        stage, grade = ("primary", min(6, max(1, age - 5))) if age < 12 else ("junior", min(3, age - 11))
        name = SURNAMES[i % 20] + GIVEN[(i // 20) % len(GIVEN)] + GIVEN[(i // 500) % len(GIVEN)]
        rows.append([name, idn, "汉族", SCHOOL, stage, str(grade), f"{grade}班", "0"])
    return rows


def csv_of(rows: list[list[str]]) -> bytes:
    lines = [",".join(HEADER)] + [",".join(r) for r in rows]
    return ("\n".join(lines) + "\n").encode()


async def login(client: httpx.AsyncClient) -> dict[str, str]:
    resp = await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
    )
    resp.raise_for_status()
    return {"Authorization": f"Bearer {resp.json()['access_token']}"}


async def setup(client: httpx.AsyncClient, headers: dict[str, str]) -> None:
    areas = [{"code": COUNTY, "name": "旬阳市"}, {"code": TOWNSHIP, "name": "城关镇"}]
    (await client.post("/api/v1/areas", json=areas, headers=headers)).raise_for_status()
    school = {
        "code": SCHOOL,
        "name": "城关九年制学校",
        "area_code": TOWNSHIP,
        "stages": ["primary", "junior"],
    }
    (await client.post("/api/v1/schools", json=school, headers=headers)).raise_for_status()


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU time (user + system) used so far by the stack's processes, their workers and PostgreSQL."""
    tick = os.sysconf("SC_CLK_TCK")
    postmaster = int((stack.data_dir / "pg" / "postmaster.pid").read_text().split()[0])
    names = {proc.pid: name for name, proc in stack.procs.items()}
    out: dict[str, float] = {}
    for entry in filter(str.isdigit, os.listdir("/proc")):
        pid = int(entry)
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        ppid, own = int(fields[1]), (int(fields[11]) + int(fields[12])) / tick
        if pid == postmaster:  # its cutime/cstime hold the time of backends that have exited
            key, own = "postgresql", own + (int(fields[13]) + int(fields[14])) / tick
        elif ppid == postmaster:
            key = "postgresql"
        elif pid in names:
            key = names[pid]
        elif ppid in names:
            key = f"{names[ppid]} workers"
        else:
            continue
        out[key] = out.get(key, 0.0) + own
    return out


def cpu_used(before: dict[str, float], after: dict[str, float]) -> str:
    used = {k: after[k] - before.get(k, 0.0) for k in after}
    return ", ".join(f"{k} {v:.1f}" for k, v in sorted(used.items(), key=lambda kv: -kv[1]) if v >= 0.05)


async def import_once(
    client: httpx.AsyncClient, headers: dict[str, str], content: bytes
) -> tuple[float, dict]:
    started = time.perf_counter()
    files = {"file": ("students.csv", content, "text/csv")}
    resp = await client.post("/api/v1/imports", files=files, data={"kind": "students"}, headers=headers)
    if resp.status_code != 202:
        raise SystemExit(f"import refused: {resp.status_code} {resp.text[:500]}")
    job_id = resp.json()["id"]
    while True:
        job = (await client.get(f"/api/v1/imports/{job_id}", headers=headers)).json()
        if job["status"] in ("done", "failed"):
            return time.perf_counter() - started, job
        await asyncio.sleep(0.2)


def final_rows(rows: list[list[str]]) -> list[tuple]:
    """The rows as registry.student stores them (prepared outside the timing)."""
    from services.kit.crypto import FieldCipher, mask_id_number, mask_student_number

    cipher = FieldCipher(os.urandom(32))
    now = datetime.now(UTC)
    out = []
    for name, idn, ethnicity, school, stage, grade, class_name, boarding in rows:
        birth = date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14]))
        gender = "male" if int(idn[16]) % 2 else "female"
        secret = (cipher.encrypt(idn), cipher.lookup_hash(idn), mask_id_number(idn))
        out.append(
            (uuid.uuid4(), name, *secret, gender, birth, mask_student_number(f"G{idn}"),
             cipher.encrypt(f"G{idn}"), ethnicity, None, None, [], None, [],
             school, TOWNSHIP, stage, int(grade), class_name, boarding == "1", "enrolled", [], 1, now, now)
        )  # fmt: skip
    return out


async def baselines(conn: asyncpg.Connection, content: bytes, rows: list[tuple]) -> tuple[float, float]:
    columns = ", ".join(f"{h} text" for h in HEADER)
    await conn.execute(f"DROP TABLE IF EXISTS public.bench_raw; CREATE TABLE public.bench_raw ({columns})")
    started = time.perf_counter()
    await conn.copy_to_table(
        "bench_raw", schema_name="public", source=io.BytesIO(content), format="csv", header=True
    )
    raw = time.perf_counter() - started
    await conn.execute("DROP TABLE IF EXISTS public.bench_like")
    await conn.execute("CREATE TABLE public.bench_like (LIKE registry.student INCLUDING ALL)")
    started = time.perf_counter()
    await conn.copy_records_to_table(
        "bench_like", schema_name="public", records=rows, columns=STUDENT_COLUMNS
    )
    like = time.perf_counter() - started
    await conn.execute("DROP TABLE public.bench_raw; DROP TABLE public.bench_like")
    return raw, like


async def drain_and_clean(conn: asyncpg.Connection, relay: bool) -> float:
    """Wait (up to 10 minutes) for the relay to publish every event, then remove the imported students."""
    started = time.perf_counter()
    while relay and await conn.fetchval("SELECT count(*) FROM registry.outbox WHERE published_at IS NULL"):
        if time.perf_counter() - started > 600:
            break
        await asyncio.sleep(0.5)
    relay = time.perf_counter() - started
    await conn.execute("TRUNCATE registry.enrollment_change, registry.student, registry.outbox CASCADE")
    await conn.execute("VACUUM ANALYZE registry.student")
    return relay


def validation_alone(rows: list[list[str]]) -> float:
    """Seconds one core spends parsing, validating and encrypting the rows (no database)."""
    from services.kit.spreadsheet import read_table
    from services.registry.imports.columns import layout_for
    from services.registry.imports.prepare import prepare

    content = csv_of(rows)
    started = time.perf_counter()
    with read_table(content, "x.csv") as table:
        layout = layout_for("students", table.header)
        chunk: list = []
        for row in table.rows:
            chunk.append(row)
            if len(chunk) == 2000:
                prepare(layout, chunk)
                chunk = []
        prepare(layout, chunk)
    return time.perf_counter() - started


async def bench(stack: Stack, n: int, runs: int, relay: bool) -> None:
    owner = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(owner)
    async with httpx.AsyncClient(base_url=stack.url(), timeout=120) as client:
        headers = await login(client)
        await setup(client, headers)
        imports, raws, likes, relays = [], [], [], []
        for run in range(runs):
            rows = make_rows(n, run)
            content = csv_of(rows)
            prepared = final_rows(rows)
            before = cpu_seconds(stack)
            raw, like = await baselines(conn, content, prepared)
            between = cpu_seconds(stack)
            seconds, job = await import_once(client, headers, content)
            after = cpu_seconds(stack)
            if job["status"] != "done" or job["created"] != n:
                raise SystemExit(f"import did not create {n}: {json.dumps(job)[:800]}")
            if run == 0:
                again, job = await import_once(client, headers, content)
                print(f"  re-import of the same file (all updates): {again:.2f} s, updated={job['updated']}")
            relays.append(await drain_and_clean(conn, relay))
            imports.append(seconds)
            raws.append(raw)
            likes.append(like)
            print(
                f"  run {run + 1}: import {seconds:.2f} s ({n / seconds:,.0f} rows/s, "
                f"{len(content) / 1e6:.1f} MB CSV); COPY raw {raw:.2f} s; COPY like student {like:.2f} s; "
                + (f"relay caught up {relays[-1]:.1f} s after" if relay else "no relay")
            )
            print(f"    CPU seconds, baselines: {cpu_used(before, between)}")
            print(f"    CPU seconds, import   : {cpu_used(between, after)}")
    await conn.close()
    imp, raw, like = (statistics.median(x) for x in (imports, raws, likes))
    print(f"\nmedian of {runs} run(s), {n:,} students:")
    print(f"  import through POST /api/v1/imports until done : {imp:6.2f} s")
    print(f"  COPY of the CSV into a bare text table (raw)    : {raw:6.2f} s   ratio {imp / raw:5.1f}")
    print(f"  COPY of the final rows into LIKE student        : {like:6.2f} s   ratio {imp / like:5.1f}")
    result(
        "import_students",
        f"import of {n:,} students through POST /api/v1/imports until done",
        imp,
        "s",
        ratio=imp / like,
        baseline=f"COPY of the final rows into LIKE student {like:.2f} s",
        target="<= 3",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--full-stack", action="store_true", help="also run subsidy, dropout and statistics")
    parser.add_argument(
        "--relay",
        choices=["process", "registry", "none"],
        default="process",
        help="where the registry's outbox relay runs while importing: its own process (as in the tests), "
        "inside the registry (competing for its GIL), or not at all (the import alone)",
    )
    args = parser.parse_args()
    print(f"machine: {machine()}")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-"))
    # Always the embedded servers (the bench truncates tables), and keys under the temp dir.
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
    relays = ("registry",) if args.relay == "process" else ()
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs", separate_relays=relays)
    try:
        if args.full_stack:
            stack.start()
        else:
            stack.start_servers()
            stack.migrate()
            for name in relays:
                stack.spawn(f"relay-{name}")
            stack.spawn("registry", relay_in_process=args.relay == "registry")
            stack.spawn("gateway")
            stack.wait_ready(["registry", "gateway"])
        services = "every service" if args.full_stack else "registry + gateway"
        print(f"stack: {services}, embedded PostgreSQL/NATS; registry outbox relay: {args.relay}")
        asyncio.run(bench(stack, args.rows, args.runs, relay=args.relay != "none"))
        alone = validation_alone(make_rows(args.rows, 9))
        print(f"  parse + validate + encrypt alone, one core     : {alone:6.2f} s")
    finally:
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
