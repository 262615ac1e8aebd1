from alembic import context

from api_gateway.models import metadata
from services.kit.migrate import run_env

run_env(context, metadata, "gateway")
