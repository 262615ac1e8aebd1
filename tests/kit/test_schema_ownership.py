"""Each service's database role can use its own schema and nothing else."""

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from services.kit.settings import SERVICES


def role_url(owner_url: str, role: str) -> str:
    return make_url(owner_url).set(username=role, password=None).render_as_string(hide_password=False)


@pytest.mark.parametrize("service", SERVICES)
async def test_role_reads_own_schema(owner_url: str, service: str):
    conn = await asyncpg.connect(role_url(owner_url, f"nol_{service}"))
    try:
        assert await conn.fetchval(f"SELECT count(*) >= 0 FROM {service}.outbox")  # noqa: S608
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
async def test_role_cannot_touch_other_schemas(owner_url: str, service: str):
    conn = await asyncpg.connect(role_url(owner_url, f"nol_{service}"))
    try:
        for other in [*(s for s in SERVICES if s != service), "gateway"]:
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.fetch(f"SELECT * FROM {other}.outbox LIMIT 1")  # noqa: S608
            with pytest.raises(asyncpg.InsufficientPrivilegeError):
                await conn.execute(f"CREATE TABLE {other}.intruder (x int)")
        with pytest.raises(asyncpg.InsufficientPrivilegeError):
            await conn.execute("CREATE TABLE public.intruder (x int)")
    finally:
        await conn.close()
