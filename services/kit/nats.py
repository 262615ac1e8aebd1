"""NATS JetStream connection and the EDU stream."""

import nats
import structlog
from nats.aio.client import Client
from nats.js import JetStreamContext
from nats.js.api import StorageType, StreamConfig
from nats.js.errors import BadRequestError

from services.kit.settings import Settings

log = structlog.get_logger()


async def connect(settings: Settings, *, name: str) -> Client:
    """Connect to NATS, reconnecting forever after the first success."""
    assert settings.nats_url, "NOL_NATS_URL must be set (the launcher sets it)"

    async def _disconnected() -> None:
        log.warning("nats disconnected", client=name)

    async def _reconnected() -> None:
        log.info("nats reconnected", client=name)

    return await nats.connect(
        [u.strip() for u in settings.nats_url.split(",") if u.strip()],
        name=name,
        max_reconnect_attempts=-1,
        reconnect_time_wait=0.5,
        connect_timeout=5,
        disconnected_cb=_disconnected,
        reconnected_cb=_reconnected,
    )


async def ensure_stream(js: JetStreamContext, settings: Settings) -> None:
    """Create the event stream if it does not exist."""
    config = StreamConfig(
        name=settings.stream,
        subjects=[f"{settings.subject_prefix}.>"],
        storage=StorageType.FILE,
        num_replicas=settings.stream_replicas,
        duplicate_window=settings.stream_duplicate_window_seconds,
    )
    try:
        await js.add_stream(config)
    except BadRequestError as exc:
        # Already there with another config (e.g. replicas changed): keep the existing stream.
        # Any other refusal (e.g. a cluster without enough peers yet) raises, so the caller retries.
        await js.stream_info(settings.stream)
        log.info("stream exists", stream=settings.stream, detail=str(exc))
