"""A stack of its own for the fault tests, once on one NATS node and once on a three-node cluster.

Real processes on loopback: embedded PostgreSQL (so it can be restarted), NATS
(one node, or three clustered with the stream at 3 replicas), the four services,
the gateway, the registry's relay as its own process and the probe consumer
(tests/faults/probe.py). The broker's dedup window is 2 s here, so a relay outage
of a few seconds outlasts it. Everything is stopped in the finalizer.
"""

import asyncio
import contextlib
import itertools
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from deploy.embedded import EmbeddedNatsCluster
from deploy.stack import APPS, Stack
from tests.helpers import ADMIN_PASSWORD

DEDUP_WINDOW = 2.0
_counties = itertools.count(1)


@dataclass
class Faults:
    """The fault stack and the means to break it."""

    kind: str
    stack: Stack
    cluster: EmbeddedNatsCluster | None
    probe: subprocess.Popen | None = None
    token: str = ""
    _probe_log: object = None
    killed: list[str] = field(default_factory=list)

    @property
    def env(self) -> dict[str, str]:
        return self.stack.full_env

    @property
    def nats_url(self) -> str:
        return self.stack.env["NOL_NATS_URL"]

    @property
    def stream(self) -> str:
        return self.stack.env.get("NOL_STREAM", "EDU")

    @property
    def prefix(self) -> str:
        return self.stack.env.get("NOL_SUBJECT_PREFIX", "edu")

    @property
    def owner_url(self) -> str:
        url = make_url(self.stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql")
        return url.render_as_string(hide_password=False)

    def start_probe(self) -> None:
        log = self.stack.data_dir / "logs" / "probe.log"
        self._probe_log = open(log, "ab")
        self.probe = subprocess.Popen(
            [sys.executable, "-m", "tests.faults.probe"],
            env=self.env,
            stdout=self._probe_log,
            stderr=subprocess.STDOUT,
        )

    def kill(self, name: str) -> None:
        """kill -9 one process: a service, `relay-registry` or `probe`."""
        self.killed.append(name)
        if name == "probe":
            if self.probe is not None and self.probe.poll() is None:
                self.probe.send_signal(signal.SIGKILL)
                self.probe.wait(5)
            self.probe = None
        else:
            self.stack.stop_process(name, sig=signal.SIGKILL)

    def start(self, name: str) -> None:
        """Start a process again (not waiting for it)."""
        if name == "probe":
            self.start_probe()
        else:
            self.stack.spawn(name, relay_in_process=name != "registry")

    async def restart(self, name: str, *, after: float = 0.0) -> None:
        """kill -9, wait, start again and wait until it answers."""
        self.kill(name)
        await asyncio.sleep(after)
        self.start(name)
        if name not in ("probe", "relay-registry"):
            await asyncio.to_thread(self.stack.wait_ready, [name], 60)

    async def county(self) -> tuple[str, str]:
        """Create a county of its own with one primary school through the gateway; return both codes."""
        code = f"61{8000 - next(_counties):04d}"
        school = f"21{code}{secrets.randbelow(100):02d}"
        headers = {"Authorization": f"Bearer {self.token}"}
        async with httpx.AsyncClient(base_url=self.stack.url(), timeout=30, headers=headers) as c:
            r = await c.post(
                "/api/v1/areas",
                json=[{"code": code, "name": f"故障县{code}"}, {"code": f"{code}100", "name": "故障镇"}],
            )
            assert r.status_code == 201, r.text
            r = await c.post(
                "/api/v1/schools",
                json={
                    "code": school,
                    "name": f"故障小学{school[-4:]}",
                    "area_code": f"{code}100",
                    "stages": ["primary"],
                },
            )
            assert r.status_code == 201, r.text
        return code, school

    async def heal(self) -> None:
        """Start whatever an earlier test left stopped, so one failure does not fail the ones after it."""
        for name in [*(f"relay-{n}" for n in self.stack.separate_relays), *APPS]:
            proc = self.stack.procs.get(name)
            if proc is None or proc.poll() is not None:
                self.start(name)
        if self.probe is None or self.probe.poll() is not None:
            self.start_probe()
        await asyncio.to_thread(self.stack.wait_ready, None, 60)

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self.kill("probe")
        self.stack.stop()
        if self.cluster is not None:
            self.cluster.stop()
        if self._probe_log is not None:
            self._probe_log.close()


async def _create_probe_tables(owner_url: str) -> None:
    from services.kit.db import async_url, make_engine
    from tests.faults.probe import create_tables

    engine = make_engine(async_url(owner_url), pool_size=1)
    await create_tables(engine)
    await engine.dispose()


async def _wait_for_durable(nats_url: str, stream: str, name: str, timeout: float = 60) -> None:
    import nats

    nc = await nats.connect(nats_url.split(","))
    try:
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            try:
                await nc.jetstream().consumer_info(stream, name)
                return
            except Exception:
                if asyncio.get_running_loop().time() > deadline:
                    raise
                await asyncio.sleep(0.2)
    finally:
        await nc.close()


def _login(url: str) -> str:
    resp = httpx.post(
        f"{url}/api/v1/auth/token",
        timeout=30,
        data={"grant_type": "password", "username": "admin", "password": ADMIN_PASSWORD},
    )
    assert resp.status_code == 200, resp.text
    return resp.json()["access_token"]


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """On a failure, attach the last lines of every process's log to the report."""
    report = yield
    faults = getattr(item, "funcargs", {}).get("faults")
    if report.when == "call" and report.failed and isinstance(faults, Faults):
        for log in sorted((faults.stack.data_dir / "logs").glob("*.log")):
            tail = log.read_text(errors="replace").splitlines()[-20:]
            report.sections.append((f"log {log.name}", "\n".join(tail)))
    return report


@pytest.fixture(scope="module", params=["single", "cluster"])
def faults(request) -> Iterator[Faults]:
    """Start the fault stack (one NATS node, or a three-node cluster at 3 replicas)."""
    tmp = Path(tempfile.mkdtemp(prefix=f"nol-faults-{request.param}-"))
    env = {
        "NOL_ADMIN_USERNAME": "admin",
        "NOL_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NOL_ADMIN_AREA": "61",
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_LOG_LEVEL": "WARNING",
        "NOL_DEMO": "0",
        "NOL_DATA_DIR": str(tmp),
        "NOL_DATABASE_URL": "",  # always the embedded PostgreSQL: the tests restart it
        "NOL_NATS_URL": "",
        "NOL_STREAM": "EDU",
        "NOL_SUBJECT_PREFIX": "edu",
        "NOL_STREAM_DUPLICATE_WINDOW_SECONDS": str(DEDUP_WINDOW),
        "NOL_GATEWAY_PORT": "0",
    }
    cluster = None
    if request.param == "cluster":
        cluster = EmbeddedNatsCluster(tmp)
        env["NOL_NATS_URL"] = cluster.url
        env["NOL_STREAM_REPLICAS"] = "3"
    stack = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs", separate_relays=("registry",))
    f = Faults(request.param, stack, cluster)
    try:
        if cluster is not None:
            cluster.start()
        stack.start()
        f.token = _login(stack.url())
        asyncio.run(_create_probe_tables(f.owner_url))
        f.start_probe()
        asyncio.run(_wait_for_durable(f.nats_url, f.stream, "fault-probe"))
        yield f
    finally:
        f.stop()
        if os.environ.get("NOL_KEEP_TEST_DATA"):
            print(f"fault test data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
