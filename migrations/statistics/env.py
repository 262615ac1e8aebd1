from alembic import context

from services.kit.migrate import run_env
from services.statistics.db import SCHEMA
from services.statistics.models import metadata

run_env(context, metadata, SCHEMA)
