from alembic import context

from services.dropout.db import SCHEMA
from services.dropout.models import metadata
from services.kit.migrate import run_env

run_env(context, metadata, SCHEMA)
