"""Gateway fixtures on the session's stack: its database, its services, its gateway.

Most tests drive the stack's own gateway over HTTP (`client`). Where a test needs a
gateway with other settings (a rate limit, a small body limit, a service that is down
or silent), `running(...)` builds one in-process on the same database, signing with the
same key file and forwarding to the same real services.
"""

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import create_async_engine

from api_gateway.main import create_app
from deploy.embedded import free_port
from deploy.stack import Stack
from services.kit.db import async_url
from services.kit.settings import Settings
from tests.helpers import ADMIN_PASSWORD

ADMIN_USER = "admin"
PASSWORD = "Passw0rd-ok"
CLIENT_IP = "10.1.2.3"

# Counties of these tests' own (the `world` fixture counts down from 618999).
_counties = itertools.count(1)


def fresh_county() -> str:
    """Return a county code no other test of the session uses."""
    return f"617{next(_counties):03d}"


def stack_settings(stack: Stack, **overrides: Any) -> Settings:
    """Settings as the stack's processes read them (its environment), with overrides."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in stack.env.items():
            mp.setenv(name, value)
        return Settings(**overrides)


@pytest.fixture(scope="session")
def settings(stack: Stack) -> Settings:
    """The stack gateway's settings: same database, data dir (keys) and service ports."""
    made = stack_settings(stack)
    assert made.gateway_port == stack.gateway_port and made.data_dir == stack.data_dir.resolve()
    return made


@pytest.fixture(scope="session")
def database_url(owner_url: str) -> str:
    """The owner's URL of the stack's database (the gateway schema is migrated and granted)."""
    return owner_url


@contextlib.asynccontextmanager
async def running(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Run a gateway app in-process (lifespan included) and return a client talking to it."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app, client=(CLIENT_IP, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            client.app = app
            yield client


def dead_url() -> str:
    """A local URL where nothing listens."""
    return f"http://127.0.0.1:{free_port()}"


@contextlib.asynccontextmanager
async def silent_server() -> AsyncIterator[str]:
    """A TCP server that accepts connections and never answers (a hung upstream)."""
    writers: list[asyncio.StreamWriter] = []

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    try:
        yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    finally:
        server.close()
        for writer in writers:
            writer.close()
        await server.wait_closed()


@pytest.fixture(scope="module")
async def down(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An in-process gateway whose statistics service is down (nothing listens there)."""
    async with running(stack_settings(stack, service_urls={"statistics": dead_url()})) as client:
        yield client


@pytest.fixture(scope="session")
async def client(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the stack's gateway, over HTTP."""
    async with httpx.AsyncClient(base_url=stack.url(), timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
async def owner_engine(database_url):
    """An engine as the database owner, for looking behind the gateway's back."""
    engine = create_async_engine(async_url(database_url))
    yield engine
    await engine.dispose()


async def login(client: httpx.AsyncClient, username: str, password: str) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
    )


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def headers_for(client: httpx.AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    resp = await login(client, username, password)
    assert resp.status_code == 200, resp.text
    return bearer(resp.json()["access_token"])


@pytest.fixture(scope="module")
async def admin(client) -> dict[str, str]:
    """Headers of the stack's bootstrap admin (area 61); a fresh token per module."""
    return await headers_for(client, ADMIN_USER, ADMIN_PASSWORD)


def unique(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


# The schools these tests give school users: a school user's school must exist inside its area.
SCHOOLS = ("2161000001", "2161000002", "2161000003", "2161000123", "2161000999")


@pytest.fixture(scope="module")
async def known_schools(client, admin) -> tuple[str, ...]:
    """The county 610928, its township 100 and the schools of SCHOOLS there (made once a session)."""
    areas = [{"code": "610928", "name": "旬阳市"}, {"code": "610928100", "name": "城关镇"}]
    resp = await client.post("/api/v1/areas", json=areas, headers=admin)
    assert resp.status_code in (201, 409), resp.text
    for code in SCHOOLS:
        school = {"code": code, "name": f"测试小学{code[-4:]}", "area_code": "610928100", "stages": ["primary"]}
        resp = await client.post("/api/v1/schools", json=school, headers=admin)
        assert resp.status_code in (201, 409), resp.text
    return SCHOOLS


@pytest.fixture
def make_user(client, admin, known_schools) -> Callable:
    """Create a user (by the admin unless `by` is given); return (user, its headers)."""

    async def _make(
        role: str,
        area_code: str,
        school_code: str | None = None,
        *,
        by: dict[str, str] | None = None,
        password: str = PASSWORD,
    ):
        body = {
            "username": unique(role),
            "password": password,
            "role": role,
            "area_code": area_code,
            "school_code": school_code,
        }
        resp = await client.post("/api/v1/users", json=body, headers=by or admin)
        assert resp.status_code == 201, resp.text
        return resp.json(), await headers_for(client, body["username"], password)

    return _make


async def make_areas(client, admin, county: str, *, townships: int = 1, name: str = "测试县") -> list[dict]:
    """Create a county and its townships in the registry; return what it stored."""
    body = [{"code": county, "name": f"{name}{county}"}] + [
        {"code": f"{county}{100 + i}", "name": f"测试镇{i}"} for i in range(townships)
    ]
    resp = await client.post("/api/v1/areas", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return resp.json()


async def make_school(client, admin, area_code: str, name: str = "中心小学") -> dict:
    """Create a primary school in an area in the registry."""
    code = f"2161{uuid.uuid4().int % 10**6:06d}"
    body = {"code": code, "name": f"{name}{code[-4:]}", "area_code": area_code, "stages": ["primary"]}
    resp = await client.post("/api/v1/schools", json=body, headers=admin)
    assert resp.status_code == 201, resp.text
    return resp.json()
