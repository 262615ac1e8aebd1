"""The read barrier: a decision from a projection sees every write acknowledged before it was asked.

A projection lags its producers twice: events still in a producer's outbox, and events on the
stream its consumer has not applied yet. The barrier closes both without reading another
service's schema:

1. **Flush.** The deciding service sends a NATS request to each producer its consumers project
   (`_nol.flush.<stream>.<service>`, one relay of that service answers). The relay publishes every
   outbox row committed so far (a write acknowledged to a client was committed before its answer)
   and replies with its highest outbox position and the stream's last sequence.
2. **Wait.** The deciding service finds the last message its consumer's filter matches at or
   below that sequence (a direct get by subject per filter: the stream has stored it before it
   acknowledged the publish) and waits until the consumer's ack floor reaches it. A consumer acks
   only after its transaction committed (or after it dead-lettered the event, which makes the
   service report itself degraded). Not "nothing pending": a server raises a consumer's pending
   count only after it acknowledged the publish, and a filtered consumer's delivered sequence does
   not move past messages it skips.

Both steps share one deadline (`NOL_BARRIER_TIMEOUT_SECONDS`); past it the request is answered
503 with `Retry-After`, never with a decision from a stale projection. The result, `AsOf`, names
the producers' outbox positions the decision reflects (`as_of`). Cheap when idle: one request per
producer and one consumer look-up.
"""

import asyncio
import json
import re
import time
from dataclasses import dataclass, field
from typing import Annotated, Any

import structlog
from fastapi import Depends, Query, Request
from nats.errors import NoRespondersError
from nats.js.errors import NotFoundError

from services.kit.errors import Invalid, Unavailable
from services.kit.settings import Settings

log = structlog.get_logger()
POSITION_PATTERN = r"^[a-z]+:[0-9]{1,18}$"
_POSITION = re.compile(POSITION_PATTERN)


def flush_subject(settings: Settings, service: str) -> str:
    """Return the subject a service's relays answer flush requests on (outside the event stream)."""
    return f"_nol.flush.{settings.stream}.{service}"


def position_header(service: str, position: int) -> str:
    """Render a write's event position: `registry:1234`."""
    return f"{service}:{position}"


def parse_position(value: str) -> tuple[str, int]:
    """Read `service:position`; Invalid naming `min_position` otherwise."""
    if not _POSITION.match(value or ""):
        raise Invalid(["min_position"], "min_position must be <service>:<position>, e.g. registry:1234")
    service, _, number = value.partition(":")
    return service, int(number)


@dataclass
class AsOf:
    """What a decision reflects: each producer's outbox position, and the stream sequence applied."""

    positions: dict[str, int] = field(default_factory=dict)
    stream_seq: int = 0

    def public(self) -> dict[str, int]:
        """The `as_of` shown to clients: producer → outbox position."""
        return dict(sorted(self.positions.items()))


class Barrier:
    """Wait until this service's projections have applied every acknowledged write of their producers."""

    def __init__(
        self,
        *,
        nc: Any,
        js: Any,
        settings: Settings,
        projects: dict[str, set[str]],
        subjects: dict[str, list[str]] | None = None,
    ):
        self.nc, self.js, self.settings = nc, js, settings
        self.projects = projects  # consumer → producer services
        # consumer → its filter subjects as on the stream (`edu.registry.student.>` with the prefix)
        self.subjects = {
            name: [f"{settings.subject_prefix}.{s.partition('.')[2]}" for s in subs]
            for name, subs in (subjects or {}).items()
        }

    async def wait(self, consumers: list[str] | None = None, *, only: str | None = None) -> AsOf:
        """Flush the producers of `consumers` (or just `only`), then wait for the consumers; AsOf."""
        names = consumers or list(self.projects)
        producers = sorted({p for c in names for p in self.projects.get(c, ())})
        if only is not None:
            producers = [p for p in producers if p == only]
        deadline = time.monotonic() + self.settings.barrier_timeout_seconds
        replies = await asyncio.gather(*(self._flush(p, deadline) for p in producers))
        as_of = AsOf(positions={p: r["position"] for p, r in zip(producers, replies, strict=True)})
        as_of.stream_seq = max((r["seq"] for r in replies), default=0)
        for name in names:
            if self.projects.get(name, set()) & set(producers):
                await self._applied(name, as_of.stream_seq, deadline)
        return as_of

    async def _flush(self, producer: str, deadline: float) -> dict[str, int]:
        while True:
            try:
                left = max(deadline - time.monotonic(), 0.05)
                msg = await self.nc.request(flush_subject(self.settings, producer), b"", timeout=left)
                reply = json.loads(msg.data)
                if "error" in reply:
                    raise RuntimeError(f"flush failed: {reply['error']}")
                return {"position": int(reply["position"]), "seq": int(reply["seq"])}
            except asyncio.CancelledError:
                raise
            except NoRespondersError:
                # No relay of that service is listening right now (restarting?): ask again until the deadline.
                if time.monotonic() + 0.2 < deadline:
                    await asyncio.sleep(0.2)
                    continue
                error = "no relay answered"
            except Exception as exc:
                error = repr(exc)
            log.warning("barrier: producer did not flush", producer=producer, error=error)
            raise Unavailable(
                f"The {producer} service did not confirm its recent writes in time; try again shortly",
                headers={"Retry-After": "2"},
            ) from None

    async def _applied(self, consumer: str, seq: int, deadline: float) -> None:
        target = await self._last_matching(consumer, seq)
        delay = 0.005
        while target:
            try:
                info = await self.js.consumer_info(self.settings.stream, consumer)
                if caught_up(info, target):
                    return
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("barrier: consumer look-up failed", consumer=consumer, error=repr(exc))
            if time.monotonic() + delay > deadline:
                raise Unavailable(
                    "Recent changes are still being applied here; try again shortly",
                    headers={"Retry-After": "2"},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.1)

    async def _last_matching(self, consumer: str, seq: int) -> int:
        """The stream sequence of the last message the consumer's filter matches, at most `seq` (0: none).

        The last match of each filter subject now; if it lies beyond `seq`, waiting for `seq` itself
        covers every match below it.
        """
        subjects = self.subjects.get(consumer)
        if not subjects:
            return seq

        async def last(subject: str) -> int:
            try:
                return (await self.js.get_last_msg(self.settings.stream, subject)).seq or 0
            except NotFoundError:
                return 0

        found = await asyncio.gather(*(last(s) for s in subjects))
        return min(seq, max(found, default=0))


def caught_up(info: Any, seq: int) -> bool:
    """Whether a durable consumer has acknowledged every message of its filter up to stream `seq`
    (`seq` being a message it matches: its ack floor is a sequence of its own messages)."""
    floor = info.ack_floor.stream_seq if info.ack_floor else 0
    return floor >= seq


def barrier_of(request: Request) -> Barrier:
    barrier = getattr(request.app.state, "barrier", None)
    if barrier is None:
        raise Unavailable("The event stream is not connected yet; try again shortly")
    return barrier


MinPosition = Annotated[
    str | None,
    Query(
        pattern=POSITION_PATTERN,
        description="Wait until the write that answered with this `X-Event-Position` (e.g. `registry:1234`) "
        "is reflected; without it, every write acknowledged before this request is.",
        examples=["registry:1234"],
    ),
]


async def fresh_projection(request: Request, min_position: MinPosition = None) -> AsOf:
    """Dependency: wait (bounded) until the projections reflect every acknowledged write; the AsOf."""
    barrier = barrier_of(request)
    only = None
    if min_position:
        only, wanted = parse_position(min_position)
        if only not in {p for ps in barrier.projects.values() for p in ps}:
            raise Invalid(["min_position"], f"this service projects no events of {only}")
    as_of = await barrier.wait(only=only)
    if min_position and as_of.positions.get(only, 0) < wanted:
        raise Invalid(["min_position"], "no write with that position has been acknowledged")
    request.state.as_of = as_of
    return as_of


FreshProjection = Annotated[AsOf, Depends(fresh_projection)]
"""A route parameter that makes the route wait for its projections first (and documents min_position)."""
