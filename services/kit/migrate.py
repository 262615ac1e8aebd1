"""Migrations: one Alembic environment per schema, plus the per-service database roles.

The Alembic environment helper and the role grants; `python -m deploy.migrate` runs them for
every schema as the owner (NOL_DATABASE_URL), so each service's role can use its own schema and
nothing else.
"""

import asyncio
from pathlib import Path

from alembic.config import Config
from sqlalchemy import MetaData, text
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.kit.db import async_url, role_name
from services.kit.settings import SERVICES, Settings, get_settings

SCHEMAS = (*SERVICES, "gateway")
INI = Path(__file__).resolve().parents[2] / "migrations" / "alembic.ini"


def alembic_config(schema: str, settings: Settings | None = None) -> Config:
    """Return the Alembic config of one schema's environment."""
    settings = settings or get_settings()
    cfg = Config(str(INI), ini_section=schema)
    cfg.set_main_option(
        "sqlalchemy.url",
        async_url(settings.database_url).render_as_string(hide_password=False).replace("%", "%%"),
    )
    cfg.attributes["schema"] = schema
    return cfg


def run_env(context, metadata: MetaData, schema: str) -> None:
    """Run an env.py: create the schema, keep the version table in it, include only it."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")

    def _include_name(name, type_, parent_names) -> bool:
        if type_ == "schema":
            return name == schema
        return True

    def _do(connection: Connection) -> None:
        connection.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        # Data migrations see every row even where an owner that is no superuser meets FORCE ROW
        # LEVEL SECURITY (kit.rls): the system scope, for this connection's life.
        connection.execute(text("SELECT set_config('nol.scope', 'system', false)"))
        connection.commit()
        context.configure(
            connection=connection,
            target_metadata=metadata,
            version_table_schema=schema,
            include_schemas=True,
            include_name=_include_name,
            compare_type=True,
        )
        with context.begin_transaction():
            context.run_migrations()

    async def _run() -> None:
        engine = create_async_engine(url)
        async with engine.connect() as conn:
            await conn.run_sync(_do)
            await conn.commit()
        await engine.dispose()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, version_table_schema=schema, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
    else:
        asyncio.run(_run())


def grant_sql(settings: Settings, schema: str) -> list[str]:
    """Return the statements that give a service role its schema, and nothing else."""
    role = role_name(settings, schema)
    password = settings.db_role_password
    create = f"CREATE ROLE {role} LOGIN NOINHERIT" + (f" PASSWORD '{password}'" if password else "")
    return [
        f"DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{role}') "
        f"THEN {create}; END IF; END $$",
        f'REVOKE ALL ON SCHEMA "{schema}" FROM PUBLIC',
        f'GRANT USAGE ON SCHEMA "{schema}" TO {role}',
        f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA "{schema}" TO {role}',
        f'GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA "{schema}" TO {role}',
        f'GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA "{schema}" TO {role}',
    ]


async def grant_roles(settings: Settings) -> None:
    """Create the service roles and grant each its own schema."""
    engine = create_async_engine(async_url(settings.database_url))
    async with engine.begin() as conn:
        # Roles are cluster-wide; serialise their creation across concurrent migrators.
        await conn.execute(text("SELECT pg_advisory_xact_lock(727270)"))
        await conn.execute(text("REVOKE CREATE ON SCHEMA public FROM PUBLIC"))
        for schema in SCHEMAS:
            for stmt in grant_sql(settings, schema):
                await conn.execute(text(stmt))
    await engine.dispose()
