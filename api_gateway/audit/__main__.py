"""`python -m api_gateway.audit verify`: walk the audit chain; exit 1 at the first broken link."""

import asyncio
import sys

from api_gateway.audit.chain import verify_chain
from services.kit.db import make_engine, service_url
from services.kit.settings import get_settings


async def _verify() -> int:
    settings = get_settings()
    if not settings.database_url:
        print("NOL_DATABASE_URL is not set (embedded: `python -m deploy.audit verify`)", file=sys.stderr)
        return 2
    engine = make_engine(service_url(settings, "gateway"), pool_size=1,
                         application_name="nol-audit-verify")
    try:
        async with engine.connect() as conn:
            checked, broken = await verify_chain(conn)
    finally:
        await engine.dispose()
    if broken:
        print(f"BROKEN at audit_log id {broken.id}: {broken.reason} ({checked} rows intact before it)")
        return 1
    print(f"OK: {checked} rows, chain intact")
    return 0


def main(argv: list[str]) -> int:
    if argv != ["verify"]:
        print("usage: python -m api_gateway.audit verify", file=sys.stderr)
        return 2
    return asyncio.run(_verify())


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
