"""Ways the fault tests break the stack, and the clients they load it with."""

import asyncio
import time

import asyncpg
import httpx
import nats

from tests.faults.conftest import Faults
from tests.faults.writer import id_number

CLIENTS = 4


async def registry_gap(faults: Faults, db: asyncpg.Connection) -> int:
    """Messages in the stream on registry subjects minus registry outbox rows marked published."""
    nc = await nats.connect(faults.nats_url.split(","), connect_timeout=5)
    try:
        info = await nc.jetstream().stream_info(faults.stream, subjects_filter=f"{faults.prefix}.registry.>")
        in_stream = sum((info.state.subjects or {}).values())
    finally:
        await nc.close()
    marked = await db.fetchval("SELECT count(*) FROM registry.outbox WHERE published_at IS NOT NULL")
    return in_stream - marked


async def kill_relay_between_publish_and_mark(faults: Faults, db: asyncpg.Connection, baseline: int) -> int:
    """Let a backlog build with the relay down, start it, and kill -9 it once it has published rows it has
    not marked yet (one batch in flight); return how many such rows."""
    faults.kill("relay-registry")
    backlog = "SELECT count(*) FROM registry.outbox WHERE published_at IS NULL"
    for _ in range(2400):  # 2 min at most
        if await db.fetchval(backlog) >= 800:
            break
        await asyncio.sleep(0.05)
    faults.start("relay-registry")
    nc = await nats.connect(faults.nats_url.split(","), connect_timeout=5)
    js = nc.jetstream()
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            info = await js.stream_info(faults.stream, subjects_filter=f"{faults.prefix}.registry.>")
            in_stream = sum((info.state.subjects or {}).values())
            marked = await db.fetchval("SELECT count(*) FROM registry.outbox WHERE published_at IS NOT NULL")
            if in_stream - marked - baseline >= 50:
                faults.kill("relay-registry")
                return in_stream - marked - baseline
            await asyncio.sleep(0.002)
    finally:
        await nc.close()
    raise AssertionError("the relay never had a batch in flight")


def student_body(county: str, school: str, i: int) -> dict:
    return {
        "name": "林同学",
        "id_number": id_number(county, i),
        "enrollment": {"school_code": school, "stage": "primary", "grade": 1 + i % 6},
    }


def api_client(faults: Faults) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=faults.stack.url(),
        timeout=15,
        headers={"Authorization": f"Bearer {faults.token}"},
        limits=httpx.Limits(max_connections=CLIENTS * 2),
    )


def stop_broker(faults: Faults) -> int | None:
    if faults.cluster is not None:
        for node in faults.cluster.names:
            faults.cluster.stop_node(node)
        return None
    port = faults.stack.servers.nats.port
    faults.stack.servers.nats.stop()
    return port


def start_broker(faults: Faults, port: int | None) -> None:
    if faults.cluster is not None:
        for node in faults.cluster.names:
            faults.cluster.start_node(node, wait=False)
        for node in faults.cluster.names:
            faults.cluster.wait_healthy(node)
    else:
        faults.stack.servers.nats.start(port=port)
