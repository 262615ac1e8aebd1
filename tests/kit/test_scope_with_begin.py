"""The scope of a walled transaction travels with its BEGIN (kit.rls.ScopedConnection): one round trip
fewer per transaction, the same wall, and nothing left behind for the connection's next user."""

import pytest
from sqlalchemy import text

from services.kit import rls
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.settings import Settings

SHOW = text(
    "SELECT current_setting('nol.scope', true), current_setting('nol.area', true), "
    "current_setting('nol.school', true), current_setting('transaction_isolation')"
)


@pytest.fixture(scope="module")
async def engine(stack):
    settings = Settings(
        database_url=stack.env["NOL_DATABASE_URL"], db_role_password=stack.env.get("NOL_DB_ROLE_PASSWORD")
    )
    engine = make_engine(service_url(settings, "registry"), pool_size=1)  # one connection: reused each time
    yield engine
    await engine.dispose()


async def test_scope_comes_with_begin_and_is_not_left_behind(engine, monkeypatch):
    folded = []
    original = rls._with_begin
    monkeypatch.setattr(rls, "_with_begin", lambda c, p: folded.append(original(c, p)) or folded[-1])
    maker = sessionmaker_for(engine)
    school = rls.Scope("school", "610928", "2161092801")
    with rls.acting_as(school):
        async with maker() as session:
            shown = (await (await session.connection()).execute(SHOW)).one()
            assert shown[:3] == ("school", "610928", "2161092801")
            await session.commit()
        async with maker() as session:  # a transaction that begins and never runs a statement
            await session.connection()
            await session.commit()
    # The same (only) pooled connection, outside any walled session: no scope at all.
    async with engine.connect() as conn:
        assert (await conn.execute(SHOW)).one()[0] in (None, "")
    async with maker() as session:  # a snapshot: the isolation level and the system scope together
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        shown = (await (await session.connection()).execute(SHOW)).one()
        assert shown == ("system", "", "", "repeatable read")
    assert folded == [True, True, True]
