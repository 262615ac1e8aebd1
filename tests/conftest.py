"""The whole stack for the test session: real PostgreSQL, real NATS, real HTTP.

With NOL_DATABASE_URL / NOL_NATS_URL set, those servers are used (a fresh
database and a fresh stream per session, dropped afterwards); otherwise the
embedded ones start in a temporary folder and stop at the end.
"""

import asyncio
import itertools
import os
import secrets
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy.engine import make_url

from deploy.stack import Stack
from tests.helpers import ADMIN_PASSWORD, Api, World

RUN_ID = secrets.token_hex(4)


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    """Start servers, migrations, the four services and the gateway."""
    tmp = Path(tempfile.mkdtemp(prefix="nol-test-"))
    env = {
        "NOL_ADMIN_USERNAME": "admin",
        "NOL_ADMIN_PASSWORD": ADMIN_PASSWORD,
        "NOL_ADMIN_AREA": "61",
        "NOL_RATE_LIMIT_PER_MINUTE": "0",
        "NOL_ALLOW_CLOCK_OVERRIDE": "true",  # the dropout tests run the daily checks as of chosen days
        "NOL_LOG_LEVEL": "WARNING",
        "NOL_DEMO": "0",
        # An import whose process died is taken over within seconds (tests/registry/test_import_resume.py).
        "NOL_IMPORT_HEARTBEAT_SECONDS": "1",
        "NOL_IMPORT_STALE_SECONDS": "5",
        # The session's logins outlive a slow run of the whole suite on a busy two-core machine.
        "NOL_ACCESS_TOKEN_MINUTES": "240",
        # A failing event is dead-lettered after 5 deliveries 0.2, 0.4, 0.8, 1.6 s apart (tests/kit).
        "NOL_CONSUMER_BACKOFF_SECONDS": "0.2",
        # A lagging projection answers 503 sooner than in production (tests/subsidy/test_barrier.py).
        "NOL_BARRIER_TIMEOUT_SECONDS": "15",
        # A webhook delivery that failed is tried again 0.2 s later (tests/gateway/test_platform.py).
        "NOL_WEBHOOK_BACKOFF_SECONDS": "0.2",
        "NOL_DATA_DIR": str(tmp),
    }
    dropped = None
    if os.environ.get("NOL_DATABASE_URL"):
        dropped = f"nol_test_{RUN_ID}"
        env["NOL_DATABASE_URL"] = _create_database(os.environ["NOL_DATABASE_URL"], dropped)
    if os.environ.get("NOL_NATS_URL"):
        env["NOL_STREAM"] = f"EDU_TEST_{RUN_ID}"
        env["NOL_SUBJECT_PREFIX"] = f"test{RUN_ID}"
    s = Stack(data_dir=tmp, env=env, log_dir=tmp / "logs", separate_relays=("registry",))
    try:
        s.start()
        yield s
    finally:
        s.stop()
        if os.environ.get("NOL_NATS_URL"):
            asyncio.run(_delete_stream(os.environ["NOL_NATS_URL"], env["NOL_STREAM"]))
        if dropped:
            _drop_database(os.environ["NOL_DATABASE_URL"], dropped)
        if os.environ.get("NOL_KEEP_TEST_DATA"):
            print(f"test data kept in {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _create_database(owner_url: str, name: str) -> str:
    import asyncpg

    async def _go() -> None:
        conn = await asyncpg.connect(
            make_url(owner_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        await conn.execute(f'CREATE DATABASE "{name}"')
        await conn.close()

    asyncio.run(_go())
    return make_url(owner_url).set(database=name).render_as_string(hide_password=False)


def _drop_database(owner_url: str, name: str) -> None:
    import asyncpg

    async def _go() -> None:
        conn = await asyncpg.connect(
            make_url(owner_url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()

    asyncio.run(_go())


async def _delete_stream(nats_url: str, stream: str) -> None:
    import nats

    nc = await nats.connect(nats_url)
    try:
        await nc.jetstream().delete_stream(stream)
    except Exception:  # noqa: S110 - best effort cleanup
        pass
    await nc.drain()


@pytest.fixture(scope="session")
async def api(stack: Stack) -> AsyncIterator[Api]:
    """An API client on the gateway, logged in as the bootstrap admin."""
    async with httpx.AsyncClient(base_url=stack.url(), timeout=30) as client:
        yield await Api.login(client, "admin", ADMIN_PASSWORD)


_counties = itertools.count(1)


@pytest.fixture
async def world(api: Api, stack: Stack) -> World:
    """A fresh county of its own (unique codes), with helpers to populate it."""
    code = f"61{9000 - next(_counties):04d}"
    return await World.create(api, code=code, stack=stack)


@pytest.fixture(scope="session")
def owner_url(stack: Stack) -> str:
    """The database owner's URL (for tests that look inside, never for the services)."""
    return (
        make_url(stack.env["NOL_DATABASE_URL"])
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )


@pytest.fixture
async def db(owner_url: str):
    """A direct owner connection to the test database."""
    import asyncpg

    conn = await asyncpg.connect(owner_url)
    yield conn
    await conn.close()
