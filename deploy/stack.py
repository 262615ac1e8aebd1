"""Run the whole system: servers (embedded unless given), migrations, four services, gateway.

`python -m deploy.stack run` is what `make run` calls. Tests use `Stack`
directly, on free ports and a data dir of their own.
"""

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from deploy.embedded import EmbeddedServers, free_port
from services.kit.settings import SERVICES

APPS = {name: f"services.{name}.main:create_app" for name in SERVICES} | {
    "gateway": "api_gateway.main:create_app"
}


def free_port_block(size: int = 5, host: str = "127.0.0.1") -> int:
    """Return a base port such that base..base+size-1 are all free."""
    import socket

    for _ in range(200):
        base = free_port(host)
        if base + size >= 65535:
            continue
        ok = True
        for p in range(base, base + size):
            with socket.socket() as s:
                try:
                    s.bind((host, p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    raise RuntimeError("no free block of ports")


def _die_with_parent() -> None:
    """In the child: ask Linux for SIGTERM when the stack process dies (no orphans after a kill -9)."""
    with contextlib.suppress(Exception):
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _main_thread() -> bool:
    # Linux sends the parent-death signal when the spawning *thread* ends: only the main thread lasts.
    return threading.current_thread() is threading.main_thread()


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)


@dataclass
class Stack:
    """The servers and the five processes of one deployment on this machine."""

    data_dir: Path
    env: dict[str, str] = field(default_factory=dict)
    gateway_port: int | None = None
    log_dir: Path | None = None
    servers: EmbeddedServers | None = None
    # Services whose outbox relay runs as its own process (the others relay in-process).
    separate_relays: tuple[str, ...] = ()
    procs: dict[str, subprocess.Popen] = field(default_factory=dict)
    relay_in_process: dict[str, bool] = field(default_factory=dict)
    _logs: list[IO] = field(default_factory=list)

    def start_servers(self) -> dict[str, str]:
        """Start embedded PostgreSQL/NATS where the environment names none."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.servers = EmbeddedServers(self.data_dir)
        base = {**os.environ, **self.env}
        urls = self.servers.start(base)
        self.env.update(urls)
        self.env.setdefault("NOL_DATA_DIR", str(self.data_dir))
        if self.gateway_port is None:
            port = int(base.get("NOL_GATEWAY_PORT", "0")) or free_port_block()
            self.gateway_port = port
        self.env["NOL_GATEWAY_PORT"] = str(self.gateway_port)
        return urls

    @property
    def full_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "-m", "deploy.migrate", "upgrade"], env=self.full_env, check=True
        )

    def port_of(self, name: str) -> int:
        assert self.gateway_port
        return self.gateway_port if name == "gateway" else self.gateway_port + 1 + SERVICES.index(name)

    def url(self, name: str = "gateway") -> str:
        return f"http://127.0.0.1:{self.port_of(name)}"

    def spawn(self, name: str, *, relay_in_process: bool = True) -> subprocess.Popen:
        """Start one process: a service or the gateway under uvicorn, or a `relay-<service>`."""
        out: IO | None = None
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = open(self.log_dir / f"{name}.log", "ab")
            self._logs.append(out)
        if name.startswith("relay-"):
            cmd = [sys.executable, "-m", "deploy.relay_main", name.removeprefix("relay-")]
        else:
            cmd = [
                sys.executable,
                "-m",
                "uvicorn",
                APPS[name],
                "--factory",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port_of(name)),
                "--no-access-log",
                "--timeout-graceful-shutdown",
                "5",
                # The gateway decides whom to believe (NOL_TRUSTED_PROXIES); uvicorn would trust any
                # X-Forwarded-For from 127.0.0.1.
                *(["--no-proxy-headers"] if name == "gateway" else []),
            ]
        env = {**self.full_env, "NOL_RELAY_IN_PROCESS": "true" if relay_in_process else "false"}
        # Each process leads a group of its own (its import workers join it), so a stop or a restart
        # can end the whole group and leave no orphan; and each dies with the stack if it is killed.
        on_fork = _die_with_parent if _main_thread() else None
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT if out else None,
                                start_new_session=True, preexec_fn=on_fork)
        self.procs[name] = proc
        self.relay_in_process[name] = relay_in_process
        return proc

    def wait_ready(self, names: list[str] | None = None, timeout: float = 180) -> None:
        """Wait until each named process answers /healthz."""
        deadline = time.monotonic() + timeout
        for name in names or list(APPS):
            if name.startswith("relay-"):
                continue
            while True:
                proc = self.procs.get(name)
                if proc is not None and proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with {proc.returncode}; see its log")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{self.url(name)}/healthz", timeout=1).status_code == 200:
                        break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name} not healthy after {timeout}s")
                time.sleep(0.1)

    def start(self) -> None:
        """Start everything and wait until it answers."""
        self.start_servers()
        self.migrate()
        for name in self.separate_relays:
            self.spawn(f"relay-{name}")
        for name in APPS:
            self.spawn(name, relay_in_process=name not in self.separate_relays)
        self.wait_ready()

    def stop_process(self, name: str, *, sig: int = signal.SIGTERM, timeout: float = 10) -> None:
        """Stop a process, then kill whatever is left of its group (workers it started)."""
        proc = self.procs.pop(name, None)
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(sig)
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        _kill_group(proc.pid)

    def restart(self, name: str) -> subprocess.Popen:
        """Replace a dead process (its leftover group killed first) with a fresh one."""
        self.stop_process(name)
        return self.spawn(name, relay_in_process=self.relay_in_process.get(name, True))

    def stop(self) -> None:
        """Stop the processes, then the embedded servers."""
        for name in list(self.procs):
            self.stop_process(name)
        if self.servers:
            self.servers.stop()
        for f in self._logs:
            f.close()


def _print_banner(stack: Stack, logins: list[tuple[str, str, str]]) -> None:
    gw = stack.url()
    print("\n" + "=" * 72)
    print("notoneless (一个不少) is running")
    print(f"  gateway    {gw}")
    print(f"  docs       {gw}/docs")
    print(f"  readiness  {gw}/readyz")
    for name in SERVICES:
        print(f"  {name:<11}{stack.url(name)}  (needs a token, as the gateway does)")
    if logins:
        print("  logins (role, username, password):")
        for role, user, password in logins:
            print(f"    {role:<9} {user:<22} {password}")
    print("  Ctrl-C stops everything.")
    print("=" * 72 + "\n", flush=True)


class Supervisor:
    """Restart a process that died, with a back-off per process (1 s doubling to 30 s, reset after
    a minute up), and log each restart; stop on SIGINT/SIGTERM."""

    def __init__(self, stack: Stack):
        self.stack = stack
        self.stopping = False
        self.delay: dict[str, float] = {}
        self.due: dict[str, float] = {}
        self.started: dict[str, float] = {name: time.monotonic() for name in stack.procs}

    def request_stop(self, *_: object) -> None:
        self.stopping = True

    def tick(self) -> None:
        """Notice dead processes and restart those whose back-off has passed."""
        now = time.monotonic()
        for name, proc in list(self.stack.procs.items()):
            if proc.poll() is None:
                if now - self.started.get(name, now) > 60:
                    self.delay.pop(name, None)
                continue
            if name not in self.due:
                delay = self.delay.get(name, 0.5) * 2 if name in self.delay else 1.0
                self.delay[name] = min(delay, 30.0)
                self.due[name] = now + self.delay[name]
                print(f"{name} exited with {proc.returncode}; restarting in {self.delay[name]:.0f} s",
                      file=sys.stderr, flush=True)
            elif now >= self.due[name]:
                del self.due[name]
                self.stack.restart(name)
                self.started[name] = now
                print(f"{name} restarted (pid {self.stack.procs[name].pid})", file=sys.stderr, flush=True)

    def run(self) -> None:
        while not self.stopping:
            self.tick()
            time.sleep(0.25)


def run() -> None:
    """Bring the system up in the foreground until Ctrl-C or SIGTERM (what `make run` does)."""
    data_dir = Path(os.environ.get("NOL_DATA_DIR", ".data")).resolve()
    demo = os.environ.get("NOL_DEMO", "1") not in ("0", "false", "no")
    env = {"NOL_DEMO": "1" if demo else "0"}
    if demo:
        env.setdefault("NOL_ADMIN_USERNAME", os.environ.get("NOL_ADMIN_USERNAME", "admin"))
        env.setdefault("NOL_ADMIN_PASSWORD", os.environ.get("NOL_ADMIN_PASSWORD", "Admin-demo-2026"))
        env.setdefault("NOL_ADMIN_AREA", os.environ.get("NOL_ADMIN_AREA", "61"))
    port = int(os.environ.get("NOL_GATEWAY_PORT", "8000"))
    stack = Stack(data_dir=data_dir, env=env, gateway_port=port)
    # Start-up is interrupted by an exception; once up, a signal only asks the supervisor to stop, so a
    # second signal (a group stop reaches every process) cannot cut the stop short and leave NATS running.
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    try:
        stack.start()
        logins: list[tuple[str, str, str]] = []
        if demo:
            from deploy.demo.load import load_demo

            logins = load_demo(stack.url(), admin=(env["NOL_ADMIN_USERNAME"], env["NOL_ADMIN_PASSWORD"]))
        _print_banner(stack, logins)
        supervisor = Supervisor(stack)
        signal.signal(signal.SIGTERM, supervisor.request_stop)
        signal.signal(signal.SIGINT, supervisor.request_stop)
        supervisor.run()
        print("\nstopping…", flush=True)
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        stack.stop()


if __name__ == "__main__":
    if sys.argv[1:] == ["run"]:
        run()
    else:
        sys.exit("usage: python -m deploy.stack run")
