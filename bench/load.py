"""The gateway's cost under load: the same request mix through the gateway and straight to the services.

    .venv/bin/python bench/load.py [--levels 1,8,32] [--seconds 5] [--rounds 3] [--students 300]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS, four services, the gateway;
rate limit off), registers a county, a school and N students, then at each concurrency level
drives a realistic mix for a few seconds per round — list students (30%), get one (30%),
post an absence (15%), list subsidy batches (10%), enrollment figures (15%) — against:

- `direct`: each request to the owning service's own port (same token: the services verify it);
  a service port serves plain reads to anyone with a token but writes only with the gateway's
  signature (kit.gateway_trust), so the direct side signs its writes as the gateway signs what it
  forwards (the v2 form: an HMAC under that service's hop key, `hop_key` with the stack's data dir
  and environment) and sends its reads as they are;
- `gateway`: through the gateway (token check, route roles, audit of writes, one pooled aiohttp
  session to the services) — the production path;
- `gateway+httpx`: the same gateway forwarding with httpx over httpcore's pool (the transport it
  had before), for comparison.

Targets alternate within each round so drift on the machine hits them alike. Prints req/s,
p50/p95/p99 and the status codes per target and level, the throughput ratio gateway/direct
(target >= 0.7) and the p99 the gateway adds (target < 5 ms). One load generator process shares
the 2 cores with the servers, as clients on the same host would.
"""

import argparse
import asyncio
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import date, timedelta
from pathlib import Path

import httpx
from stdnum.cn import ric

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load_average, machine, median, percentile, result  # noqa: E402
from deploy.embedded import free_port, wait_for_port  # noqa: E402
from deploy.stack import Stack  # noqa: E402
from services.contracts.calendar import today  # noqa: E402
from services.kit.gateway_trust import hop_key, mac_httpx  # noqa: E402
from services.kit.settings import SERVICES, Settings  # noqa: E402

ADMIN = ("admin", "Admin-bench-2026")
COUNTY = "610931"
MIX = [("list", 30), ("get", 30), ("absences", 15), ("batches", 10), ("stats", 15)]
SERVICE_OF = {
    "list": "registry",
    "get": "registry",
    "absences": "dropout",
    "batches": "subsidy",
    "stats": "statistics",
}


def id_number(i: int) -> str:
    birth = date(2016, 3, 1) + timedelta(days=i // 1000)
    body = f"{COUNTY}{birth:%Y%m%d}{i % 1000:03d}"
    return body + ric.calc_check_digit(body + "0")


def school_days(n: int) -> list[str]:
    """The last n weekdays before today (absences must be on a past school day)."""
    days, d = [], today() - timedelta(days=1)  # the deployment's day, not UTC's
    while len(days) < n:
        if d.weekday() < 5:
            days.append(d.isoformat())
        d -= timedelta(days=1)
    return days


async def seed(gw: str, students: int) -> tuple[str, str, list[str]]:
    """Log in, create a county, a school and N students through the gateway; return token, school, ids."""
    async with httpx.AsyncClient(base_url=gw, timeout=60) as c:
        r = await c.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": ADMIN[0], "password": ADMIN[1]}
        )
        r.raise_for_status()
        token = r.json()["access_token"]
        c.headers["Authorization"] = f"Bearer {token}"
        r = await c.post(
            "/api/v1/areas",
            json=[{"code": COUNTY, "name": "压测县"}, {"code": f"{COUNTY}100", "name": "压测镇"}],
        )
        r.raise_for_status()
        school = f"21{COUNTY}01"
        r = await c.post(
            "/api/v1/schools",
            json={"code": school, "name": "压测小学", "area_code": f"{COUNTY}100", "stages": ["primary"]},
        )
        r.raise_for_status()
        sem = asyncio.Semaphore(8)

        async def one(i: int) -> str:
            body = {
                "name": "赵同学",
                "id_number": id_number(i),
                "enrollment": {"school_code": school, "stage": "primary", "grade": 1 + i % 6},
            }
            async with sem:
                r = await c.post("/api/v1/students", json=body)
                r.raise_for_status()
                return r.json()["id"]

        ids = list(await asyncio.gather(*(one(i) for i in range(students))))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the dropout and statistics projections have them all
            figures = (await c.get("/api/v1/stats/enrollment")).json()
            probe = await c.post(
                "/api/v1/attendance/absences",
                json={"student_id": ids[-1], "date": school_days(1)[0], "reason": "sick"},
            )
            if figures.get("students", 0) >= students and probe.status_code == 200:
                break
            await asyncio.sleep(0.5)
    return token, school, ids


def plan(
    rng: random.Random, school: str, ids: list[str], days: list[str]
) -> tuple[str, str, str, dict | None]:
    """Draw one request of the mix: (kind, method, path, json)."""
    kind = rng.choices([k for k, _ in MIX], weights=[w for _, w in MIX])[0]
    if kind == "list":
        return kind, "GET", f"/api/v1/students?school_code={school}&limit=50", None
    if kind == "get":
        return kind, "GET", f"/api/v1/students/{rng.choice(ids)}", None
    if kind == "absences":
        body = {"student_id": rng.choice(ids), "date": rng.choice(days), "reason": "sick"}
        return kind, "POST", "/api/v1/attendance/absences", body
    if kind == "batches":
        return kind, "GET", f"/api/v1/subsidy/batches?school_code={school}", None
    return kind, "GET", "/api/v1/stats/enrollment", None


async def drive(
    client: httpx.AsyncClient,
    base_of,
    level: int,
    seconds: float,
    rng: random.Random,
    school: str,
    ids: list[str],
    days: list[str],
    sign: httpx.Auth | None = None,
) -> dict:
    """`level` concurrent workers send the mix for `seconds`; return latencies (ms), count, errors and
    the count of each status code. `sign`: httpx auth for the writes (the direct side's signature)."""
    latencies: list[float] = []
    by_kind: dict[str, list[float]] = defaultdict(list)
    errors: dict[str, int] = defaultdict(int)
    statuses: dict[int, int] = defaultdict(int)
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        while time.perf_counter() < deadline:
            kind, method, path, body = plan(rng, school, ids, days)
            t = time.perf_counter()
            try:
                auth = sign if sign and method != "GET" else httpx.USE_CLIENT_DEFAULT
                r = await client.request(method, base_of(kind) + path, json=body, auth=auth)
                statuses[r.status_code] += 1
                ok = r.status_code < 400
                if not ok:
                    errors[f"{kind} {r.status_code}"] += 1
            except httpx.HTTPError as exc:
                ok = False
                errors[f"{kind} {type(exc).__name__}"] += 1
            ms = (time.perf_counter() - t) * 1000
            if ok:
                latencies.append(ms)
                by_kind[kind].append(ms)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(level)))
    elapsed = time.perf_counter() - started
    return {
        "lat": latencies,
        "by_kind": by_kind,
        "n": len(latencies),
        "errors": dict(errors),
        "statuses": dict(statuses),
        "rps": len(latencies) / elapsed,
    }


class HopSigner(httpx.Auth):
    """httpx auth signing each request as the gateway signs what it forwards (kit.gateway_trust v2):
    an HMAC under the hop key of the service whose port the request goes to."""

    def __init__(self, keys: dict[int, bytes]):
        self.keys = keys

    def auth_flow(self, request: httpx.Request):
        yield mac_httpx(request, self.keys[request.url.port])


def start_variant(stack: Stack, factory: str, log_dir: Path) -> tuple[subprocess.Popen, str]:
    """Run another gateway (same env and services) from bench/gateway_variants.py on a free port."""
    port = free_port()
    log = open(log_dir / f"gateway-{factory}.log", "ab")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            f"bench.gateway_variants:{factory}",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
        ],
        env=stack.full_env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    wait_for_port("127.0.0.1", port, timeout=120, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


async def bench(stack: Stack, args: argparse.Namespace, variants: dict[str, str]) -> None:
    token, school, ids = await seed(stack.url(), args.students)
    days = school_days(30)
    targets = {"direct": None, "gateway": stack.url(), **variants}
    rng = random.Random(7)
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(
        max_connections=max(args.levels) * 2, max_keepalive_connections=max(args.levels) * 2
    )
    # The direct side signs its writes as the gateway signs what it forwards (kit.gateway_trust v2, an
    # HMAC under each service's hop key): without it a service port refuses them (403), which would
    # make the direct side look cheaper. The keys come from the stack's data dir and environment, as
    # the gateway's do.
    settings = Settings(data_dir=stack.data_dir)
    signs = {"direct": HopSigner({stack.port_of(s): hop_key(settings, s) for s in SERVICES})}
    async with httpx.AsyncClient(headers=headers, timeout=30, limits=limits, trust_env=False) as client:
        # Warm every path (pools, prepared statements, JWKS caches) before measuring.
        for name, base in targets.items():
            base_of = (lambda k: stack.url(SERVICE_OF[k])) if base is None else (lambda k, b=base: b)
            warm = await drive(client, base_of, 8, 1.5, rng, school, ids, days, signs.get(name))
            if warm["errors"]:
                print(f"warm-up {name}: errors {warm['errors']}")
        print(
            f"\n{'level':>5}  {'target':<16}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
            f"  {'vs direct':>9}  {'p99 added':>9}  errors"
        )
        for level in args.levels:
            runs: dict[str, list[dict]] = defaultdict(list)
            for r in range(args.rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    base = targets[name]
                    base_of = (lambda k: stack.url(SERVICE_OF[k])) if base is None else (lambda k, b=base: b)
                    runs[name].append(
                        await drive(
                            client, base_of, level, args.seconds, rng, school, ids, days, signs.get(name)
                        )
                    )
            summary = {}
            for name, rs in runs.items():
                lat = [x for run in rs for x in run["lat"]]
                errors: dict[str, int] = defaultdict(int)
                statuses: dict[int, int] = defaultdict(int)
                for run in rs:
                    for k, v in run["errors"].items():
                        errors[k] += v
                    for code, v in run["statuses"].items():
                        statuses[code] += v
                summary[name] = {
                    "rps": median([run["rps"] for run in rs]),
                    "p50": percentile(lat, 50),
                    "p95": percentile(lat, 95),
                    "p99": percentile(lat, 99),
                    "errors": dict(errors),
                    "statuses": dict(sorted(statuses.items())),
                }
            direct = summary["direct"]
            for name, s in summary.items():
                ratio = s["rps"] / direct["rps"] if direct["rps"] else float("nan")
                added = s["p99"] - direct["p99"]
                print(
                    f"{level:>5}  {name:<16}{s['rps']:>8.0f}{s['p50']:>9.1f}{s['p95']:>9.1f}{s['p99']:>9.1f}"
                    f"  {'' if name == 'direct' else f'{ratio:9.2f}':>9}  "
                    f"{'' if name == 'direct' else f'{added:+8.1f}':>9}  {s['errors'] or ''}"
                )
                tag = f"c={level} {name}"
                # A side with errors answers fewer or cheaper requests: its ratio is shown, not judged.
                failed = {**direct["errors"], **s["errors"]}
                versus = "direct" + (f"; errors {failed}" if failed else "")
                result(
                    "load",
                    f"{tag} throughput",
                    s["rps"],
                    "req/s",
                    ratio=None if name == "direct" else ratio,
                    baseline=None if name == "direct" else versus,
                    target=None if name == "direct" or failed else ">= 0.7",
                )
                result(
                    "load",
                    f"{tag} p50/p95/p99",
                    s["p99"],
                    "ms p99",
                    baseline=f"p50 {s['p50']:.1f} ms, p95 {s['p95']:.1f} ms",
                )
                if name != "direct":
                    result("load", f"{tag} p99 added", added, "ms", target=None if failed else "< 5")
            answers = "; ".join(
                f"{name} " + " ".join(f"{code}×{n}" for code, n in s["statuses"].items())
                for name, s in summary.items()
            )
            print(f"{'':>5}  status codes: {answers}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[1, 8, 32])
    parser.add_argument("--seconds", type=float, default=5.0, help="per target, level and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--students", type=int, default=300)
    parser.add_argument("--no-variants", action="store_true", help="only the production gateway")
    args = parser.parse_args()
    print(f"machine: {machine()}; load average at start {load_average()}")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-load-"))
    env = {
        "NOL_ADMIN_USERNAME": ADMIN[0],
        "NOL_ADMIN_PASSWORD": ADMIN[1],
        "NOL_ADMIN_AREA": "61",
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_LOG_LEVEL": "WARNING",
        "NOL_DEMO": "0",
        "NOL_DATA_DIR": str(tmp),
        "NOL_GATEWAY_PORT": "0",
    }
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs")
    extra: list[subprocess.Popen] = []
    try:
        print("starting the stack…", flush=True)
        stack.start()
        variants = {}
        if not args.no_variants:
            proc, url = start_variant(stack, "create_app_httpx", tmp / "logs")
            extra.append(proc)
            variants["gateway+httpx"] = url
        asyncio.run(bench(stack, args, variants))
        print(f"load average at the end {load_average()}")
    finally:
        for proc in extra:
            proc.terminate()
            proc.wait(10)
        stack.stop()
        if not os.environ.get("NOL_KEEP_BENCH_DATA"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
