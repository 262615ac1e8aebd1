"""A read (GET, HEAD) runs in autocommit with its scope held by the connection (kit.rls.hold): one round
trip per statement, and a scope never leaks to the connection's next user, whoever that is, even
after an error or a cancellation."""

import asyncio

import pytest
from sqlalchemy import event, text

from services.kit import rls
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.settings import Settings

SHOW = text(
    "SELECT current_setting('nol.scope', true), current_setting('nol.area', true), "
    "current_setting('nol.school', true), pg_backend_pid()"
)
A = rls.Scope("area", "610928")
B = rls.Scope("area", "610929")
SCHOOL = rls.Scope("school", "610928", "2161092801")


@pytest.fixture
async def engine(stack):
    settings = Settings(
        database_url=stack.env["NOL_DATABASE_URL"], db_role_password=stack.env.get("NOL_DB_ROLE_PASSWORD")
    )
    engine = make_engine(service_url(settings, "registry"), pool_size=1)
    yield engine
    await engine.dispose()


@pytest.fixture
def statements(engine):
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", note)
    yield seen
    event.remove(engine.sync_engine, "before_cursor_execute", note)


async def read(maker, scope: rls.Scope, query=SHOW) -> tuple:
    with rls.acting_as(scope):
        async with maker.reads() as session:
            row = (await session.execute(query)).one()
            await session.commit()
    return tuple(row)


async def unwalled(engine) -> tuple:
    async with engine.connect() as conn:
        return tuple((await conn.execute(SHOW)).one())


def empty(row: tuple) -> bool:
    return all(v in (None, "") for v in row[:3])


async def test_a_read_is_one_statement_and_its_scope_stays_its_own(engine, statements):
    maker = sessionmaker_for(engine)
    first = await read(maker, A)
    assert first[:3] == ("area", "610928", "")
    statements.clear()
    again = await read(maker, A)  # the same caller again: the connection already holds the scope
    assert again == first
    assert statements == [str(SHOW)], "a repeated read costs its own statement only (no BEGIN, COMMIT, set)"
    other = await read(maker, B)  # another caller on the same connection: its own scope, not A's
    assert other[:3] == ("area", "610929", "") and other[3] == first[3]
    school = await read(maker, SCHOOL)
    assert school[:3] == ("school", "610928", "2161092801") and school[3] == first[3]


async def test_nothing_else_sees_a_read_s_scope(engine):
    maker = sessionmaker_for(engine)
    pid = (await read(maker, A))[3]
    shown = await unwalled(engine)  # engine.connect(): the relay, readiness, scripts
    assert shown[3] == pid and empty(shown)
    await read(maker, B)
    async with sessionmaker_for(engine, walled=False)() as session:  # an unwalled session
        shown = tuple((await session.execute(SHOW)).one())
    assert shown[3] == pid and empty(shown)


async def test_a_transaction_after_a_read_has_its_own_scope_and_leaves_none(engine):
    maker = sessionmaker_for(engine)
    pid = (await read(maker, A))[3]
    with rls.acting_as(B):
        async with maker() as session:
            shown = tuple((await session.execute(SHOW)).one())
            await session.commit()
    assert shown == ("area", "610929", "", pid)
    with rls.acting_as(rls.SYSTEM):
        async with maker() as session:
            assert tuple((await session.execute(SHOW)).one()) == ("system", "", "", pid)
    assert empty(await unwalled(engine))


async def test_as_system_in_a_read_switches_and_comes_back(engine):
    maker = sessionmaker_for(engine)
    with rls.acting_as(A):
        async with maker.reads() as session:
            async with rls.as_system(session):
                assert (await session.execute(SHOW)).one()[:3] == ("system", "", "")
            assert (await session.execute(SHOW)).one()[:3] == ("area", "610928", "")
    assert empty(await unwalled(engine))


async def test_a_failed_read_leaves_no_scope(engine):
    maker = sessionmaker_for(engine)
    with pytest.raises(Exception):  # noqa: B017 - any database error
        await read(maker, A, text("SELECT 1 / 0"))
    assert empty(await unwalled(engine))
    assert (await read(maker, B))[:3] == ("area", "610929", "")


async def test_a_cancelled_read_leaves_no_scope(engine):
    maker = sessionmaker_for(engine)
    task = asyncio.create_task(read(maker, A, text("SELECT pg_sleep(5)")))
    await asyncio.sleep(0.5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert empty(await unwalled(engine))
    assert (await read(maker, SCHOOL))[:3] == ("school", "610928", "2161092801")


async def test_an_interrupted_hold_is_not_trusted(engine, monkeypatch):
    maker = sessionmaker_for(engine)
    await read(maker, A)
    real = rls._params

    def broken(scope):
        raise RuntimeError("interrupted while the scope was being set")

    monkeypatch.setattr(rls, "_params", broken)
    with pytest.raises(RuntimeError):
        await read(maker, B)
    monkeypatch.setattr(rls, "_params", real)
    assert empty(await unwalled(engine))  # held scope unknown: cleared for an unwalled user
    assert (await read(maker, A))[:3] == ("area", "610928", "")
