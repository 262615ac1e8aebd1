"""`python -m deploy.audit verify`: the gateway's audit-chain check, on the embedded server if none is set."""

import os
import sys

from deploy.embedded import EmbeddedPostgres
from services.kit.settings import get_settings


def main(argv: list[str]) -> int:
    settings = get_settings()
    if not settings.database_url:
        # Embedded mode: the launcher's server, reused if it is already running.
        os.environ["NOL_DATABASE_URL"] = EmbeddedPostgres(settings.data_dir).start()
        get_settings.cache_clear()
    from api_gateway.audit.__main__ import main as verify

    return verify(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
