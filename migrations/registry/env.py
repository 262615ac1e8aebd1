from alembic import context

from services.kit.migrate import run_env
from services.registry.db import SCHEMA
from services.registry.models import metadata

run_env(context, metadata, SCHEMA)
