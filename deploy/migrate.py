"""`python -m deploy.migrate [upgrade]`: upgrade every schema to head as the owner, grant the roles."""

import asyncio
import sys

from alembic import command

from services.kit.migrate import SCHEMAS, alembic_config, grant_roles
from services.kit.settings import Settings, get_settings


def upgrade(settings: Settings | None = None, revision: str = "head") -> None:
    """Upgrade every schema and grant the service roles."""
    settings = settings or get_settings()
    for schema in SCHEMAS:
        command.upgrade(alembic_config(schema, settings), revision)
    asyncio.run(grant_roles(settings))


if __name__ == "__main__":
    args = sys.argv[1:]
    if not args or args[0] == "upgrade":
        upgrade()
    else:
        sys.exit(f"usage: python -m deploy.migrate [upgrade]; got {args}")
