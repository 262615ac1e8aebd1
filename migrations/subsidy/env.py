from alembic import context

from services.kit.migrate import run_env
from services.subsidy.db import SCHEMA
from services.subsidy.models import metadata

run_env(context, metadata, SCHEMA)
