"""Per-request cost: GET /students/{id} on a bare endpoint, the registry's own port and the gateway.

    .venv/bin/python bench/service_cost.py [--seconds 6] [--rounds 3]

Starts its own stack in a temp dir (embedded PostgreSQL and NATS, every service, the gateway; rate
limit off), registers a county, a school and a few students, then starts beside it the baseline
(the same as `../shared/checks/15-service-cost`): a bare uvicorn + Starlette + asyncpg endpoint that
verifies the same EdDSA token against the gateway's JWKS and reads the same row from the same
PostgreSQL, with no framework layers. wrk then drives the same request, with the same token, at

- `bare`: the baseline;
- `direct`: the registry's own port (token and gateway-signature checks, row-level security, the
  middleware stack, FastAPI's dependencies and response model);
- `gateway`: through the gateway (token, route roles, audit, one pooled aiohttp session to the registry).

Targets alternate within each round (drift on the machine hits them alike); figures are medians
of the rounds. Targets (performance issue): direct ≥ 0.5 × bare at c=8; gateway ≥ 0.85 × direct
(c=8 and c=32) and the p99 it adds at c=8 < 5 ms. Needs `wrk` (apt-get install wrk).
"""

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.common import load_average, machine, median, result  # noqa: E402
from bench.load import ADMIN, seed  # noqa: E402
from deploy.embedded import free_port, wait_for_port  # noqa: E402
from deploy.stack import Stack  # noqa: E402

BARE = """
import contextlib

import asyncpg
import httpx
import jwt
from starlette.applications import Starlette
from starlette.responses import JSONResponse
from starlette.routing import Route

keys = {k["kid"]: jwt.PyJWK(k) for k in httpx.get("%(jwks)s").json()["keys"]}
pool = None


@contextlib.asynccontextmanager
async def lifespan(app):
    global pool
    pool = await asyncpg.create_pool("%(dsn)s", min_size=4, max_size=8)
    yield


async def get(request):
    t = request.headers["authorization"].split()[1]
    kid = jwt.get_unverified_header(t)["kid"]
    jwt.decode(t, keys[kid], algorithms=["EdDSA"], options={"verify_aud": False})
    row = await pool.fetchrow("select * from registry.student where id = $1", request.path_params["id"])
    if row is None:
        return JSONResponse({"detail": "not found"}, 404)
    plain = (int, str, bool, type(None))
    return JSONResponse({k: (v if isinstance(v, plain) else str(v)) for k, v in dict(row).items()})


app = Starlette(routes=[Route("/api/v1/students/{id:uuid}", get)], lifespan=lifespan)
"""


def wrk(url: str, token: str, connections: int, seconds: float) -> dict:
    """Run wrk once; return req/s and the p50/p99 latency (ms)."""
    out = subprocess.run(
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "-H",
            f"Authorization: Bearer {token}",
            url,
        ],
        capture_output=True,
        text=True,
    ).stdout
    if "Requests/sec" not in out:
        raise RuntimeError(f"wrk gave no figure for {url}:\n{out[-400:]}")
    if "Non-2xx" in out:
        raise RuntimeError(f"non-2xx answers from {url}:\n{out[-400:]}")

    def ms(label: str) -> float:
        m = re.search(rf"^\s*{label}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M)
        if not m:
            return float("nan")
        return float(m.group(1)) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[m.group(2)]

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": ms("50"),
        "p99": ms("99"),
    }


def start_bare(stack: Stack, workdir: Path) -> tuple[subprocess.Popen, str]:
    dsn = make_url(stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql").render_as_string(False)
    (workdir / "bare.py").write_text(
        textwrap.dedent(BARE % {"jwks": f"{stack.url()}/.well-known/jwks.json", "dsn": dsn})
    )
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "bare:app",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ],
        cwd=workdir,
        start_new_session=True,
    )
    wait_for_port("127.0.0.1", port, timeout=60, proc=proc)
    return proc, f"http://127.0.0.1:{port}"


def bench(stack: Stack, args: argparse.Namespace, workdir: Path) -> None:
    token, _, ids = asyncio.run(seed(stack.url(), 20))
    path = f"/api/v1/students/{ids[0]}"
    bare, bare_url = start_bare(stack, workdir)
    try:
        for base in (bare_url, stack.url("registry"), stack.url()):  # every path answers, and is warm
            r = httpx.get(base + path, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            r.raise_for_status()
            wrk(base + path, token, 8, 1)
        targets = {"bare": bare_url, "direct": stack.url("registry"), "gateway": stack.url()}
        for level in args.levels:
            runs: dict[str, list[dict]] = {name: [] for name in targets}
            for r in range(args.rounds):
                order = list(targets) if r % 2 == 0 else list(reversed(targets))
                for name in order:
                    runs[name].append(wrk(targets[name] + path, token, level, args.seconds))
            s = {
                n: {k: median([run[k] for run in rs]) for k in ("rps", "p50", "p99")}
                for n, rs in runs.items()
            }
            for name, fig in s.items():
                rps, p50, p99 = fig["rps"], fig["p50"], fig["p99"]
                print(f"c={level:<3} {name:<8} {rps:>8.0f} req/s  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms")
            direct, gateway = s["direct"], s["gateway"]
            result(
                "service_cost",
                f"c={level} bare uvicorn+asyncpg+JWT",
                s["bare"]["rps"],
                "req/s",
                baseline=f"p50 {s['bare']['p50']:.1f} ms, p99 {s['bare']['p99']:.1f} ms",
            )
            result(
                "service_cost",
                f"c={level} registry direct vs bare",
                direct["rps"],
                "req/s",
                ratio=direct["rps"] / s["bare"]["rps"],
                baseline="bare",
                target=">= 0.5",
            )
            result(
                "service_cost",
                f"c={level} gateway vs direct",
                gateway["rps"],
                "req/s",
                ratio=gateway["rps"] / direct["rps"],
                baseline="direct",
                target=">= 0.85",
            )
            result(
                "service_cost",
                f"c={level} gateway p99 added",
                gateway["p99"] - direct["p99"],
                "ms",
                target="< 5" if level == 8 else None,
            )
    finally:
        os.killpg(bare.pid, 15)
        bare.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--levels", type=lambda s: [int(x) for x in s.split(",")], default=[8, 32])
    parser.add_argument("--seconds", type=float, default=6.0, help="per target, level and round")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        # Failed, not skipped: a RESULTS.md without these rows must say why (bench/__main__ reports it).
        sys.exit("wrk not installed (apt-get install wrk): per-request cost not measured")
    print(f"machine: {machine()}; load average at start {load_average()}")
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-cost-"))
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
    started = time.monotonic()
    try:
        print("starting the stack…", flush=True)
        stack.start()
        bench(stack, args, tmp)
        print(f"load average at the end {load_average()}; {time.monotonic() - started:.0f} s")
    finally:
        stack.stop()
        if not os.environ.get("NOL_KEEP_BENCH_DATA"):
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
