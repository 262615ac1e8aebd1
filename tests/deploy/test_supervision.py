"""`make run` supervises: a killed service comes back, and a group stop leaves nothing running."""

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import pytest

from deploy.stack import free_port_block
from tests.conftest import RUN_ID, _create_database, _delete_stream, _drop_database


def _ours(data_dir: Path) -> dict[int, str]:
    """Processes (any parent, orphans included) started for this data dir: pid -> command line."""
    found = {}
    marker = f"NOL_DATA_DIR={data_dir}".encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found[int(entry.name)] = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
    return found


def _wait(check, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return False


def _ready(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.mark.skipif(not os.environ.get("NOL_DATABASE_URL") or not os.environ.get("NOL_NATS_URL"),
                    reason="runs against the system servers (NOL_DATABASE_URL, NOL_NATS_URL)")
def test_killed_registry_restarts_and_group_stop_leaves_nothing():
    tmp = Path(tempfile.mkdtemp(prefix="nol-run-"))
    name, stream = f"nol_run_{RUN_ID}", f"EDU_RUN_{RUN_ID}"
    port = free_port_block()
    env = {**os.environ, "NOL_DEMO": "0", "NOL_DATA_DIR": str(tmp), "NOL_GATEWAY_PORT": str(port),
           "NOL_DATABASE_URL": _create_database(os.environ["NOL_DATABASE_URL"], name),
           "NOL_STREAM": stream, "NOL_SUBJECT_PREFIX": f"run{RUN_ID}", "NOL_LOG_LEVEL": "WARNING"}
    log = open(tmp / "run.log", "wb")
    runner = subprocess.Popen([sys.executable, "-m", "deploy.stack", "run"], env=env, stdout=log,
                              stderr=subprocess.STDOUT, start_new_session=True)
    gateway = f"http://127.0.0.1:{port}"
    try:
        assert _wait(lambda: _ready(f"{gateway}/readyz"), 180), (tmp / "run.log").read_text()[-3000:]
        registry = next(pid for pid, cmd in _ours(tmp).items() if "services.registry.main" in cmd)
        os.kill(registry, signal.SIGKILL)
        started = time.monotonic()

        def back() -> bool:
            pids = [p for p, c in _ours(tmp).items() if "services.registry.main" in c]
            return bool(pids) and registry not in pids and _ready(f"{gateway}/readyz")

        assert _wait(back, 30), (tmp / "run.log").read_text()[-3000:]
        assert time.monotonic() - started < 30
        assert "registry restarted" in (tmp / "run.log").read_text()

        os.killpg(runner.pid, signal.SIGTERM)  # what a service manager's group stop does
        runner.wait(60)
        assert _wait(lambda: not _ours(tmp), 15), f"left running: {_ours(tmp)}"
    finally:
        if runner.poll() is None:
            os.killpg(runner.pid, signal.SIGKILL)
        for pid in _ours(tmp):
            os.kill(pid, signal.SIGKILL)
        log.close()
        asyncio.run(_delete_stream(os.environ["NOL_NATS_URL"], stream))
        _drop_database(os.environ["NOL_DATABASE_URL"], name)
        shutil.rmtree(tmp, ignore_errors=True)
