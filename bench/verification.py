# ruff: noqa: S608 - the baseline SQL is built from constants only
"""Platform roster verification (比对) of 1,000,000 rows against 1,000,000 registry students.

    .venv/bin/python bench/verification.py [--rows 1000000] [--runs 3]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS; gateway and statistics, and
the outbox relay of each service statistics projects: the job's read barrier first asks each of
them to confirm its acknowledged writes, kit.barrier), fills the statistics projections
(students, enrollment spans, households, payments) with COPY as the database owner (the bench
measures the verification job, not event ingestion), and per run:

- baseline: the same comparisons written by hand as plain SQL over the same tables, the roster
  already loaded into a table and analysed (no Python, no pinyin, no events, nothing kept);
- job: POST /api/v1/verifications with the roster as a CSV, polled until `done` — upload,
  parsing, ID checks and keyed hashing, COPY, every finding kind, the roster rows kept, the
  not_in_school events written.

The CSV (~45 MB) is over the gateway's 10 MB body limit, so the bench posts it to the statistics
service's own port with a platform client's token from the gateway.
Prints the medians and the ratio job / baseline.
"""

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import asyncpg
import httpx
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from api_gateway.keys import load_keyring
from bench.common import result
from deploy.stack import Stack
from services.kit.service import projections
from services.statistics.main import SPEC

ADMIN = ("admin", "Admin-bench-2026")
SEMESTER, REF, SPAN_FROM = "2026-autumn", date(2026, 9, 1), date(2026, 3, 1)
COUNTIES = [f"61{a:02d}{b:02d}" for a in range(1, 11) for b in range(1, 11)]
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
# Given-name characters and a homophone of each (a mistyped name sounds the same).
HOMOPHONES = dict(
    zip("小明伟娜华军丽静强磊洋勇杰涛超平刚英", "晓铭玮那桦君莉靖蔷垒阳涌洁滔潮萍钢瑛", strict=True)
)
GIVEN = list(HOMOPHONES)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK = "10X98765432"
KINDS = ("registered_poor", "dibao", "monitored", "tekun", "lifted")
# The services whose events statistics projects: a verification waits for each one's relay to
# confirm its acknowledged writes (kit.barrier), so the stack runs those relays (nothing else of them).
PRODUCERS = sorted({p for ps in projections(SPEC.subscriptions).values() for p in ps} - {SPEC.name})


# The hand-written baseline: the same comparisons as plain SQL over the same tables (roster loaded in
# bench_roster), each kind's rows into one temp table; no Python, no pinyin, nothing kept.
IN_AREA = "({t}.village_code LIKE '61%' OR {t}.area_code LIKE '61%')"
BASELINE = [
    "CREATE TEMP TABLE bf (kind text, student_id uuid, row_number int, details jsonb) ON COMMIT DROP",
    """INSERT INTO bf SELECT 'identity_mismatch', s.student_id, r.row_number,
         jsonb_build_object('roster', r.name, 'registry', s.name, 'masked', s.id_number_masked)
       FROM bench_roster r JOIN statistics.student_fact s ON s.id_number_hash = r.id_number_hash
       WHERE r.name <> s.name""",
    """CREATE TEMP TABLE u ON COMMIT DROP AS SELECT r.* FROM bench_roster r
       WHERE NOT EXISTS (
         SELECT 1 FROM statistics.student_fact x WHERE x.id_number_hash = r.id_number_hash)""",
    f"""CREATE TEMP TABLE c ON COMMIT DROP AS SELECT s.* FROM statistics.student_fact s
       WHERE {IN_AREA.format(t="s")}
         AND NOT EXISTS (SELECT 1 FROM bench_roster y WHERE y.id_number_hash = s.id_number_hash)""",
    "ANALYZE u; ANALYZE c",
    """INSERT INTO bf SELECT 'candidate', c.student_id, u.row_number,
         jsonb_build_object('roster', u.name, 'registry', c.name, 'via', 'household')
       FROM u JOIN statistics.household_fact h ON h.platform_id = u.household_platform_id
       JOIN c ON c.household_id = h.household_id AND char_length(c.name) = char_length(u.name)
       UNION ALL
       SELECT 'candidate', c.student_id, u.row_number,
         jsonb_build_object('roster', u.name, 'registry', c.name, 'via', 'birth_date')
       FROM u JOIN c ON c.birth_date = u.birth_date AND char_length(c.name) = char_length(u.name)""",
    """INSERT INTO bf SELECT 'missing_in_registry', NULL, r.row_number,
         jsonb_build_object('name', r.name, 'birth_date', r.birth_date,
                            'age', date_part('year', age('2026-09-01', r.birth_date)))
       FROM bench_roster r
       WHERE NOT EXISTS (SELECT 1 FROM statistics.student_fact s WHERE s.id_number_hash = r.id_number_hash)
         AND r.birth_date > date '2026-09-01' - interval '19 years'
         AND r.birth_date <= date '2026-09-01' - interval '3 years'""",
    f"""INSERT INTO bf SELECT 'unknown_to_platform', s.student_id, NULL,
         jsonb_build_object('name', s.name, 'masked', s.id_number_masked, 'categories', s.categories,
                            'status', s.status)
       FROM statistics.student_fact s
       WHERE {IN_AREA.format(t="s")} AND s.categories && '{{registered_poor,monitored,dibao,tekun}}'
         AND s.status NOT IN ('graduated', 'transferred_out', 'deceased')
         AND NOT EXISTS (SELECT 1 FROM bench_roster r WHERE r.id_number_hash = s.id_number_hash)""",
    """INSERT INTO bf SELECT 'unpaid_eligible', s.student_id, r.row_number,
         jsonb_build_object('name', s.name, 'school_code', s.school_code, 'categories', s.categories)
       FROM bench_roster r JOIN statistics.student_fact s ON s.id_number_hash = r.id_number_hash
       WHERE s.status IN ('enrolled', 'home_taught')
         AND (cardinality(r.statuses) > 0 OR cardinality(s.categories) > 0)
         AND NOT EXISTS (SELECT 1 FROM statistics.payment_fact p WHERE p.student_id = s.student_id
                         AND p.semester = '2026-autumn' AND p.status = 'paid')""",
    f"""INSERT INTO bf SELECT 'paid_ineligible', p.student_id, r.row_number,
         jsonb_build_object('policy_code', p.policy_code, 'amount_fen', p.amount_fen, 'name', s.name)
       FROM statistics.payment_fact p LEFT JOIN statistics.student_fact s ON s.student_id = p.student_id
       LEFT JOIN bench_roster r ON r.id_number_hash = s.id_number_hash
       WHERE p.semester = '2026-autumn' AND p.status = 'paid' AND {IN_AREA.format(t="p")}
         AND p.policy_kind IN ('grant', 'living_allowance')
         AND cardinality(coalesce(s.categories, '{{}}')) = 0
         AND cardinality(coalesce(r.statuses, '{{}}')) = 0""",
    f"""INSERT INTO bf SELECT 'paid_not_enrolled', p.student_id, NULL,
         jsonb_build_object('policy_code', p.policy_code, 'amount_fen', p.amount_fen, 'status', s.status)
       FROM statistics.payment_fact p JOIN statistics.student_fact s ON s.student_id = p.student_id
       LEFT JOIN statistics.enrollment_span e ON e.student_id = p.student_id AND e.valid_to IS NULL
       WHERE p.semester = '2026-autumn' AND p.status = 'paid' AND {IN_AREA.format(t="p")}
         AND s.status NOT IN ('enrolled', 'home_taught')
         AND (e.valid_from IS NULL OR e.valid_from <= '2026-09-30')""",
    f"""INSERT INTO bf SELECT 'duplicate_payment', p.student_id, NULL,
         jsonb_agg(jsonb_build_object('policy_code', p.policy_code, 'area_code', p.area_code)
                   ORDER BY p.policy_code)
       FROM statistics.payment_fact p WHERE p.semester = '2026-autumn' AND p.status = 'paid'
       GROUP BY p.student_id
       HAVING bool_or({IN_AREA.format(t="p")})
          AND (count(*) > count(DISTINCT p.policy_kind) OR count(DISTINCT left(p.area_code, 6)) > 1)""",
    f"""INSERT INTO bf SELECT 'out_of_county_incomplete', s.student_id, NULL,
         jsonb_build_object('name', s.name, 'details', s.out_of_county)
       FROM statistics.student_fact s
       WHERE s.status = 'out_of_county' AND {IN_AREA.format(t="s")}
         AND (coalesce(s.out_of_county->>'province', '') = '' OR coalesce(s.out_of_county->>'county', '') = ''
              OR coalesce(s.out_of_county->>'school_name', '') = '')""",
    """INSERT INTO bf SELECT 'not_in_school', s.student_id, r.row_number,
         jsonb_build_object('name', r.name, 'birth_date', r.birth_date, 'status', s.status)
       FROM bench_roster r LEFT JOIN statistics.student_fact s ON s.id_number_hash = r.id_number_hash
       WHERE r.birth_date > date '2026-09-01' - interval '16 years'
         AND r.birth_date <= date '2026-09-01' - interval '6 years'
         AND coalesce(s.status, '') NOT IN ('enrolled', 'home_taught', 'out_of_county')""",
]


def machine() -> str:
    mem = ""
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal"):
                mem = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    load = "/".join(f"{x:.1f}" for x in os.getloadavg())
    python = platform.python_version()
    return f"{platform.machine()}, nproc {os.cpu_count()}, {mem} RAM, Python {python}, load {load}"


def id_number(place: str, birth: date, seq: int) -> str:
    body = f"{place}{birth:%Y%m%d}{seq:03d}"
    return body + CHECK[sum(int(c) * w for c, w in zip(body, WEIGHTS, strict=True)) % 11]


@dataclass
class Data:
    """Everything the bench loads, as COPY records, and the roster as CSV."""

    households: list[tuple] = field(default_factory=list)
    students: list[tuple] = field(default_factory=list)
    spans: list[tuple] = field(default_factory=list)
    payments: list[tuple] = field(default_factory=list)
    roster: list[tuple] = field(default_factory=list)  # (row, household pid, name, id number, statuses)


def generate(n: int, seed: int = 6) -> Data:
    """N registry students in 100 counties, their households and payments; a roster of N rows."""
    rng, d = random.Random(seed), Data()
    seqs: dict[tuple[str, date], int] = {}

    def new_id(place: str, birth: date) -> str:
        seq = seqs.get((place, birth), 0)
        seqs[(place, birth)] = seq + 1
        return id_number(place, birth, seq % 1000)

    per_county, count = n // len(COUNTIES), 0
    for county in COUNTIES:
        made = 0
        while made < per_county:
            village = f"{county}{100 + rng.randrange(5)}{200 + rng.randrange(4)}"
            hid, pid = uuid.uuid4(), f"H{len(d.households):08d}"
            r = rng.random()
            kind = None if r < 0.4 else KINDS[min(4, int((r - 0.4) / 0.12))]
            statuses = [{"kind": kind, "since": "2020-01-01"}] if kind else []
            d.households.append((hid, pid, "户主", village, json.dumps(statuses), 1))
            for _ in range(min(per_county - made, rng.randint(1, 4))):
                _student(d, rng, new_id, county, village, hid, pid, kind)
                made += 1
        count += made
    _extra_rows(d, rng, new_id, n - len(d.roster))
    return d


def _student(d: Data, rng: random.Random, new_id, county: str, village: str, hid, pid: str, kind) -> None:
    age = rng.randint(3, 17)
    birth = date(REF.year - age, rng.randint(1, 8), rng.randint(1, 28))
    idn = new_id(county, birth)
    name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.randint(1, 2)))
    sid, r = uuid.uuid4(), rng.random()
    status = (
        "enrolled" if r < 0.965 else "dropped_out" if r < 0.97 else "suspended" if r < 0.975
        else "out_of_county" if r < 0.985 else "graduated" if r < 0.99 else "home_taught"
    )  # fmt: skip
    stage = "preschool" if age < 6 else "primary" if age < 12 else "junior" if age < 15 else "senior"
    categories = ["registered_poor" if kind == "lifted" else kind] if kind else []
    away = None
    if status == "out_of_county":
        away = json.dumps(
            {"province": "广东省", "county": "南山区", "school_name": "南山小学"} if r < 0.98 else {}
        )
    school = f"21{county[:2]}{county[2:]}{rng.randrange(100):02d}"
    d.students.append(
        (sid, name, "male" if int(idn[16]) % 2 else "female", birth, idn, idn[:6] + "********" + idn[14:],
         hid, village, village[:9], school, stage, max(1, age - 5), False, status, categories, [], away, 1)
    )  # fmt: skip
    d.spans.append((sid, SPAN_FROM, None, village[:9], school, village, stage, status, categories))
    active = status in ("enrolled", "home_taught")
    _payments(d, rng, sid, hid, county, village, school, stage, categories, active)
    r = rng.random()
    statuses = ";".join([kind] if kind else [])
    if r < 0.955:
        shown = name if r < 0.95 else name[0] + "".join(HOMOPHONES.get(c, c) for c in name[1:])
        d.roster.append((pid, shown, idn, statuses))
    elif r < 0.96:  # a mistyped ID number and a homophone name: a likely match by household
        d.roster.append((pid, name[0] + "".join(HOMOPHONES.get(c, c) for c in name[1:]),
                         id_number(county, birth, 900 + rng.randrange(100)), statuses))  # fmt: skip


def _payments(d: Data, rng, sid, hid, county, village, school, stage, categories, active) -> None:
    def pay(policy: str, kind: str, area: str, amount: int = 62500) -> None:
        d.payments.append((uuid.uuid4(), sid, hid, policy, kind, SEMESTER, 2026, amount, school, area,
                           village, stage, categories, "paid", 1))  # fmt: skip

    r = rng.random()
    if categories and ((active and r < 0.9) or (not active and r < 0.5)):
        pay(f"LA-{stage}", "living_allowance", village[:9])
        if r < 0.003:
            pay("LA-EXTRA", "living_allowance", village[:9])
        elif r < 0.004:
            pay("WAIVER", "waiver", COUNTIES[(COUNTIES.index(county) + 1) % len(COUNTIES)] + "100")
    elif not categories and active and r < 0.003:
        pay("GRANT", "grant", village[:9], 50000)


def _extra_rows(d: Data, rng: random.Random, new_id, count: int) -> None:
    """Children the registry does not know (infants, teenagers, dropouts never registered)."""
    for _ in range(count):
        _, pid, _, village, statuses, _ = d.households[rng.randrange(len(d.households))]
        kinds = ";".join(s["kind"] for s in json.loads(statuses))
        birth = date(REF.year - rng.randint(0, 22), rng.randint(1, 12), rng.randint(1, 28))
        name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
        d.roster.append((pid, name, new_id(village[:6], birth), kinds))


def roster_csv(d: Data) -> bytes:
    lines = ["household_platform_id,name,id_number,statuses"]
    lines += [",".join(r) for r in d.roster]
    return ("\n".join(lines) + "\n").encode()


async def load_facts(conn: asyncpg.Connection, d: Data, mac_key: bytes) -> None:
    """COPY the projections as the owner (hashing ID numbers with the deployment's key)."""
    from services.statistics.verification.prepare import _pads

    inner, outer = _pads(mac_key)

    def digest(value: str) -> str:
        h = inner.copy()
        h.update(value.encode())
        o = outer.copy()
        o.update(h.digest())
        return o.hexdigest()

    await conn.copy_records_to_table(
        "household_fact", schema_name="statistics", records=d.households,
        columns=["household_id", "platform_id", "head_name", "area_code", "statuses", "version"],
    )  # fmt: skip
    now = time.time()
    from datetime import UTC, datetime

    stamp = datetime.fromtimestamp(now, UTC)
    await conn.copy_records_to_table(
        "student_fact", schema_name="statistics",
        records=[(*s[:4], digest(s[4]), *s[5:], stamp) for s in d.students],
        columns=["student_id", "name", "gender", "birth_date", "id_number_hash", "id_number_masked",
                 "household_id", "village_code", "area_code", "school_code", "stage", "grade", "boarding",
                 "status", "categories", "groups", "out_of_county", "version", "updated_at"],
    )  # fmt: skip
    await conn.copy_records_to_table(
        "enrollment_span", schema_name="statistics", records=d.spans,
        columns=["student_id", "valid_from", "valid_to", "area_code", "school_code", "village_code", "stage",
                 "status", "categories"],
    )  # fmt: skip
    await conn.copy_records_to_table(
        "payment_fact", schema_name="statistics", records=d.payments,
        columns=["disbursement_id", "student_id", "household_id", "policy_code", "policy_kind", "semester",
                 "year", "amount_fen", "school_code", "area_code", "village_code", "stage", "categories",
                 "status", "version"],
    )  # fmt: skip
    await conn.execute("DROP TABLE IF EXISTS public.bench_roster")
    await conn.execute(
        "CREATE TABLE public.bench_roster (row_number int, household_platform_id text, name text, "
        "id_number_hash text, birth_date date, gender text, statuses text[])"
    )
    await conn.copy_records_to_table(
        "bench_roster", schema_name="public",
        records=[(i + 2, pid, name, digest(idn), date(int(idn[6:10]), int(idn[10:12]), int(idn[12:14])),
                  "male" if int(idn[16]) % 2 else "female", [k for k in kinds.split(";") if k])
                 for i, (pid, name, idn, kinds) in enumerate(d.roster)],
    )  # fmt: skip
    await conn.execute("VACUUM ANALYZE")


async def baseline(owner: str) -> tuple[float, dict[str, int]]:
    """Run the hand-written SQL of every kind (the job connection's settings); return time and counts."""
    from services.statistics.verification.compare import CONNECTION_SETTINGS

    conn = await asyncpg.connect(owner, server_settings=CONNECTION_SETTINGS)
    try:
        tr = conn.transaction()
        await tr.start()
        started = time.perf_counter()
        for statement in BASELINE:
            await conn.execute(statement)
        seconds = time.perf_counter() - started
        counts = dict(await conn.fetch("SELECT kind, count(*) FROM bf GROUP BY kind"))
        await tr.rollback()
        return seconds, counts
    finally:
        await conn.close()


async def platform_token(gateway: httpx.AsyncClient) -> str:
    resp = await gateway.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
    )
    admin = {"Authorization": f"Bearer {resp.json()['access_token']}"}
    made = (
        await gateway.post("/api/v1/clients", json={"name": "bench", "area_code": "61"}, headers=admin)
    ).json()
    resp = await gateway.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    return resp.json()["access_token"]


async def job(service: httpx.AsyncClient, token: str, content: bytes) -> tuple[float, dict]:
    headers = {"Authorization": f"Bearer {token}"}
    started = time.perf_counter()
    resp = await service.post(
        "/api/v1/verifications", headers=headers, data={"semester": SEMESTER},
        files={"file": ("roster.csv", content, "text/csv")},
    )  # fmt: skip
    if resp.status_code != 202:
        raise SystemExit(f"refused: {resp.status_code} {resp.text[:500]}")
    while True:
        got = (await service.get(f"/api/v1/verifications/{resp.json()['id']}", headers=headers)).json()
        if got["status"] in ("done", "failed"):
            return time.perf_counter() - started, got
        await asyncio.sleep(0.1)


async def bench(stack: Stack, d: Data, runs: int) -> None:
    from services.kit.crypto import id_cipher
    from services.kit.settings import Settings

    owner = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    conn = await asyncpg.connect(owner)
    key = id_cipher(Settings(data_dir=stack.data_dir))._mac_key
    started = time.perf_counter()
    await load_facts(conn, d, key)
    await conn.close()
    content = roster_csv(d)
    print(f"loaded facts in {time.perf_counter() - started:.1f} s: {len(d.students):,} students, "
          f"{len(d.households):,} households, {len(d.payments):,} payments; roster {len(d.roster):,} rows, "
          f"{len(content) / 1e6:.1f} MB CSV")  # fmt: skip
    jobs, bases = [], []
    async with (
        httpx.AsyncClient(base_url=stack.url(), timeout=60) as gateway,
        # Straight to the statistics port (no upload limit in the way), signed as the gateway signs
        # what it forwards: service ports take no write without it (kit.gateway_trust).
        httpx.AsyncClient(
            base_url=stack.url("statistics"),
            timeout=600,
            auth=load_keyring(Settings(data_dir=stack.data_dir)).signer(),
        ) as service,
    ):
        for run in range(runs):
            base, counts = await baseline(owner)
            token = await platform_token(gateway)
            seconds, got = await job(service, token, content)
            if got["status"] != "done":
                raise SystemExit(f"job failed: {json.dumps(got)[:800]}")
            jobs.append(seconds)
            bases.append(base)
            load = os.getloadavg()[0]
            server = _server_seconds(got)
            print(f"  run {run + 1} (load {load:.1f}): job {seconds:.2f} s (server {server:.2f} s),"
                  f" baseline SQL {base:.2f} s, ratio {seconds / base:.2f}")  # fmt: skip
            if run == 0:
                print(f"    findings: {got['summary']}")
                print(f"    baseline: {dict(sorted(counts.items()))}")
                compared, total = got["rows_compared"], got["total"]
                print(f"    rows compared {compared:,} of {total:,}; errors {got['error_count']}")
    j, b = statistics.median(jobs), statistics.median(bases)
    print(f"\nmedian of {runs} run(s), roster {len(d.roster):,} rows, registry {len(d.students):,} students:")
    print(f"  verification job (POST until done)       : {j:6.2f} s")
    print(f"  hand-written SQL, roster already loaded  : {b:6.2f} s")
    print(f"  ratio                                    : {j / b:6.2f}  (target <= 3, job < 60 s)")
    result(
        "verification",
        f"verification job, roster of {len(d.roster):,} rows (POST until done)",
        j,
        "s",
        ratio=j / b,
        baseline=f"hand-written SQL, roster already loaded {b:.2f} s",
        target="<= 3",
    )


def _server_seconds(job: dict) -> float:
    from datetime import datetime

    return (
        datetime.fromisoformat(job["finished_at"]) - datetime.fromisoformat(job["created_at"])
    ).total_seconds()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    print(f"machine: {machine()}")
    started = time.perf_counter()
    d = generate(args.rows)
    print(f"generated in {time.perf_counter() - started:.1f} s")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-"))
    for name in ("NOL_DATABASE_URL", "NOL_NATS_URL", "NOL_DATA_KEY"):
        os.environ.pop(name, None)
    os.environ["NOL_DATA_DIR"] = str(tmp)
    env = {
        "NOL_ADMIN_USERNAME": ADMIN[0],
        "NOL_ADMIN_PASSWORD": ADMIN[1],
        "NOL_ADMIN_AREA": "61",
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_LOG_LEVEL": "INFO",  # the statistics service logs each job's load and compare seconds
        "NOL_DEMO": "0",
        "NOL_DATA_DIR": str(tmp),
    }
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs")
    try:
        stack.start_servers()
        stack.migrate()
        for name in PRODUCERS:
            stack.spawn(f"relay-{name}")
        for name in ("statistics", "gateway"):
            stack.spawn(name)
        stack.wait_ready(["statistics", "gateway"])
        for name in PRODUCERS:
            if stack.procs[f"relay-{name}"].poll() is not None:
                raise SystemExit(f"the {name} relay exited; see {tmp / 'logs'}")
        print(f"stack: gateway + statistics, relays of {', '.join(PRODUCERS)}, embedded PostgreSQL/NATS")
        asyncio.run(bench(stack, d, args.runs))
    finally:
        stack.stop()
        log = tmp / "logs" / "statistics.log"
        for line in log.read_text(errors="replace").splitlines() if log.exists() else []:
            if "verification done" in line:
                print("  service:", line.split("verification done", 1)[1].strip())
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
