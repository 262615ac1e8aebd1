"""Run one service's outbox relay as its own process: `python -m deploy.relay_main registry`.

Services relay in-process by default (NOL_RELAY_IN_PROCESS=true); production may
run relays apart, several per schema (rows are claimed with SKIP LOCKED).
"""

import asyncio
import importlib
import signal
import sys

from services.kit import nats as kit_nats
from services.kit.db import make_engine, service_url
from services.kit.logging import configure_logging
from services.kit.relay import Relay
from services.kit.settings import SERVICES, get_settings


async def main(service: str) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, json=settings.log_json)
    outbox = importlib.import_module(f"services.{service}.db").outbox
    engine = make_engine(service_url(settings, service), pool_size=2, application_name=f"nol-relay-{service}")
    nc = await kit_nats.connect(settings, name=f"relay-{service}")
    js = nc.jetstream()
    await kit_nats.ensure_stream(js, settings)
    relay = Relay(engine=engine, outbox=outbox, js=js, settings=settings, service=service)
    await relay.serve_flush(nc)  # this process answers its service's flush requests (kit.barrier)
    task = asyncio.create_task(relay.run())
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, task.cancel)
    try:
        await task
    except asyncio.CancelledError:
        pass
    finally:
        await nc.close()  # not drain(): pull subscriptions can hold drain for its whole timeout
        await engine.dispose()


if __name__ == "__main__":
    if len(sys.argv) != 2 or sys.argv[1] not in SERVICES:
        sys.exit(f"usage: python -m deploy.relay_main {{{'|'.join(SERVICES)}}}")
    asyncio.run(main(sys.argv[1]))
