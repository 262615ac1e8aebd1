"""Count what fault tests write, what the stream holds and what each consumer applied."""

import asyncio
import json
import time
from collections import Counter
from dataclasses import dataclass, field

import asyncpg
import nats
import nats.js.errors
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

# Each durable consumer of registry student events, the table of its inbox and its student projection.
CONSUMERS = {
    "statistics": ("statistics.inbox", "statistics.student_fact", "student_id"),
    "dropout-students": ("dropout.inbox", "dropout.student", "id"),
    "subsidy-registry": ("subsidy.inbox", "subsidy.student", "student_id"),
    "fault-probe": ("faultprobe.inbox", None, None),
}


@dataclass
class Ledger:
    """The figures a fault test prints and asserts."""

    written: int
    delivered: int
    delivered_distinct: int
    applied: dict[str, int] = field(default_factory=dict)
    twice: int = 0
    stale: dict[str, int] = field(default_factory=dict)

    @property
    def lost(self) -> dict[str, int]:
        return {name: self.written - n for name, n in self.applied.items()}

    def lines(self, title: str) -> str:
        head = (
            f"{title}: events written={self.written} delivered={self.delivered} "
            f"(distinct {self.delivered_distinct}, re-published after the dedup window "
            f"{self.delivered - self.delivered_distinct})"
        )
        rows = [
            f"  {name:<17} applied={n} lost={self.written - n} applied twice="
            f"{self.twice if name == 'fault-probe' else 0}"
            + (f" projection behind registry={self.stale[name]}" if name in self.stale else "")
            for name, n in self.applied.items()
        ]
        return "\n".join([head, *rows])


async def written_events(db: asyncpg.Connection, school: str) -> list:
    """Event ids of every registry student change of one school (committed outbox rows)."""
    rows = await db.fetch(
        """SELECT o.id FROM registry.outbox o JOIN registry.student s ON s.id::text = o.subject
           WHERE s.school_code = $1 AND o.type LIKE 'edu.registry.student.%'""",
        school,
    )
    return [r["id"] for r in rows]


async def applied_counts(db: asyncpg.Connection, ids: list) -> dict[str, int]:
    out = {}
    for name, (inbox, _, _) in CONSUMERS.items():
        out[name] = await db.fetchval(
            f"SELECT count(*) FROM {inbox} WHERE consumer = $1 AND event_id = ANY($2::uuid[])",  # noqa: S608
            name,
            ids,
        )
    return out


async def wait_applied(db: asyncpg.Connection, ids: list, *, timeout: float) -> dict[str, int]:
    """Wait until every consumer's inbox holds every id; return the counts at the end."""
    deadline = time.monotonic() + timeout
    while True:
        counts = await applied_counts(db, ids)
        if all(n >= len(ids) for n in counts.values()) or time.monotonic() > deadline:
            return counts
        await asyncio.sleep(0.5)


async def stream_counts(nats_url: str, stream: str, subject: str, ids: set[str]) -> Counter:
    """Read the whole stream on `subject` once and count the messages of each event id."""
    nc = await nats.connect(nats_url.split(","), connect_timeout=5)
    js = nc.jetstream()
    counts: Counter = Counter()
    last = (await js.stream_info(stream)).state.last_seq
    config = ConsumerConfig(
        ack_policy=AckPolicy.NONE, deliver_policy=DeliverPolicy.ALL, inactive_threshold=30.0
    )
    sub = await js.pull_subscribe(subject, stream=stream, config=config)
    unavailable = 0
    try:
        while True:
            try:
                msgs = await sub.fetch(1000, timeout=2)
            except (TimeoutError, nats.errors.TimeoutError):
                break
            except nats.js.errors.ServiceUnavailableError:
                # On the cluster a fresh consumer can answer 503 while its replicas settle after
                # a node restart; it is the reader that waits, not a finding.
                unavailable += 1
                assert unavailable <= 40, "the stream stayed unavailable for 20 s"
                await asyncio.sleep(0.5)
                continue
            for msg in msgs:
                event_id = json.loads(msg.data)["id"]
                if event_id in ids:
                    counts[event_id] += 1
            if msgs[-1].metadata.sequence.stream >= last or msgs[-1].metadata.num_pending == 0:
                break
    finally:
        await sub.unsubscribe()
        await nc.close()
    return counts


async def twice_in_probe(db: asyncpg.Connection, ids: list) -> int:
    """Applications beyond the first, per event, in the probe's append-only table."""
    return await db.fetchval(
        "SELECT count(*) - count(DISTINCT event_id) FROM faultprobe.applied WHERE event_id = ANY($1::uuid[])",
        ids,
    )


async def projection_behind(db: asyncpg.Connection, school: str) -> dict[str, int]:
    """Students whose projected version differs from the registry's, per projecting consumer."""
    out = {}
    for name, (_, table, key) in CONSUMERS.items():
        if table is None:
            continue
        out[name] = await db.fetchval(
            f"""SELECT count(*) FROM registry.student s LEFT JOIN {table} p ON p.{key} = s.id
                WHERE s.school_code = $1 AND p.version IS DISTINCT FROM s.version""",  # noqa: S608
            school,
        )
    return out


async def tally(
    db: asyncpg.Connection, *, nats_url: str, stream: str, prefix: str, school: str, timeout: float = 120
) -> Ledger:
    """Wait for the consumers to catch up, then count everything."""
    ids = await written_events(db, school)
    applied = await wait_applied(db, ids, timeout=timeout)
    counts = await stream_counts(nats_url, stream, f"{prefix}.registry.student.>", {str(i) for i in ids})
    return Ledger(
        written=len(ids),
        delivered=sum(counts.values()),
        delivered_distinct=len(counts),
        applied=applied,
        twice=await twice_in_probe(db, ids),
        stale=await projection_behind(db, school),
    )
