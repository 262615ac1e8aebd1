"""Consumers never wedge: bounded redeliveries, dead letters, degraded readiness, ops endpoints.

Poison events are published straight to NATS on the stack's own stream. Every letter a test makes
is resolved before it ends, so the shared stack is never left degraded.
"""

import json
import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import httpx
import nats
import pytest

from tests.helpers import Api, World, eventually

OPS = "/api/v1/ops"
MAX_DELIVERIES = 5  # the default of NOL_CONSUMER_MAX_DELIVERIES


def subject_of(stack, event_type: str) -> str:
    prefix = stack.env.get("NOL_SUBJECT_PREFIX") or "edu"
    return f"{prefix}.{event_type.partition('.')[2]}"


async def publish(stack, event: dict | bytes, event_type: str) -> None:
    """Publish an event as a producer's relay would, skipping its validation."""
    nc = await nats.connect(stack.env["NOL_NATS_URL"])
    try:
        data = event if isinstance(event, bytes) else json.dumps(event).encode()
        await nc.jetstream().publish(
            subject_of(stack, event_type), data, stream=stack.env.get("NOL_STREAM", "EDU")
        )
    finally:
        await nc.close()


def envelope(event_type: str, subject: str, data: dict, area_code: str | None = None) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "type": event_type,
        "source": event_type.split(".")[1],
        "time": datetime.now(UTC).isoformat(),
        "subject": subject,
        "area_code": area_code,
        "school_code": None,
        "version": 1,
        "schema_version": 1,
        "data": data,
    }


async def letters_of(api: Api, event_id: str, count: int = 1, timeout: float = 30) -> list[dict]:
    """Wait until `count` letters hold this event; return them."""

    async def found():
        body = await api.ok("GET", f"{OPS}/dead-letters", params={"limit": 500})
        mine = [d for d in body["items"] if d["event_id"] == event_id]
        return mine if len(mine) >= count else None

    return await eventually(found, timeout=timeout, interval=0.3)


@pytest.fixture
async def cleanup(api: Api) -> AsyncIterator[set[str]]:
    """Event ids whose letters are resolved at the end, whatever happened."""
    event_ids: set[str] = set()
    try:
        yield event_ids
    finally:
        body = await api.ok("GET", f"{OPS}/dead-letters", params={"status": "open", "limit": 500})
        for letter in body["items"]:
            if letter["event_id"] in event_ids:
                await api.post(f"{OPS}/dead-letters/{letter['id']}/resolve", json={"note": "test cleanup"})


async def readyz(stack, name: str = "gateway") -> httpx.Response:
    async with httpx.AsyncClient() as http:
        return await http.get(f"{stack.url(name)}/readyz")


async def test_unreadable_event_dead_lettered_at_once(stack, api: Api, world: World, db, cleanup):
    """A student event without its required `status`: a letter per consumer, first delivery, acked."""
    student_id = str(uuid.uuid4())
    event = envelope(
        "edu.registry.student.updated",
        student_id,
        {"id": student_id, "name": "无状态", "school_code": world.schools["primary"]["code"]},
        world.code,
    )
    cleanup.add(event["id"])
    await publish(stack, event, event["type"])
    found = await letters_of(api, event["id"], count=3)
    by_consumer = {d["consumer"]: d for d in found}
    assert set(by_consumer) == {"subsidy-registry", "dropout-students", "statistics"}
    for letter in found:
        assert letter["status"] == "open" and letter["attempts"] == 1, letter  # no retry can help
        assert "status" in letter["error"] and letter["type"] == "edu.registry.student.updated"
        assert letter["id"] == f"{letter['service']}-{letter['id'].rsplit('-', 1)[1]}"

    # Degraded (API.md, Ops): the service and the gateway answer 503 with status "degraded" and why.
    resp = await readyz(stack, "subsidy")
    assert resp.status_code == 503 and resp.json()["status"] == "degraded", resp.text
    assert any("dead letter" in r and "subsidy-registry" in r for r in resp.json()["reasons"])
    resp = await readyz(stack)
    assert resp.status_code == 503 and resp.json()["status"] == "degraded", resp.text
    assert any(r.startswith("subsidy: ") and "dead letter" in r for r in resp.json()["reasons"])
    assert all(resp.json()["checks"].values())

    consumers = await api.ok("GET", f"{OPS}/consumers")  # a plain list (API.md, Ops)
    row = next(c for c in consumers if c["consumer"] == "subsidy-registry")
    assert row["service"] == "subsidy" and row["dead_letters"] >= 1 and row["last_applied_at"]
    assert {c["consumer"] for c in consumers} >= {"subsidy-registry", "dropout-students", "statistics"}

    # Not wedged: a student registered afterwards reaches every projection.
    student = await world.student()
    for query in (
        "SELECT 1 FROM subsidy.student WHERE student_id = $1",
        "SELECT 1 FROM dropout.student WHERE id = $1",
    ):
        await eventually(lambda q=query: db.fetchval(q, uuid.UUID(student["id"])), timeout=30)


async def test_failing_handler_retried_boundedly_then_dead_lettered(stack, api: Api, cleanup):
    """A school code too long for the subsidy projection fails its insert: 5 deliveries, then a letter."""
    code = f"21{secrets.randbelow(10**9):09d}"  # 11 digits: subsidy.school.code holds 10
    event = envelope(
        "edu.registry.school.created", code, {"code": code, "name": "超长代码学校", "area_code": "610999"}
    )
    cleanup.add(event["id"])
    await publish(stack, event, event["type"])
    (letter,) = await letters_of(api, event["id"])
    assert letter["consumer"] == "subsidy-registry" and letter["attempts"] == MAX_DELIVERIES, letter
    assert "too long" in letter["error"] and "[SQL" not in letter["error"]

    # It still fails: the replay answers 409 with the error, and the letter stays open.
    resp = await api.post(f"{OPS}/dead-letters/{letter['id']}/replay")
    assert resp.status_code == 409 and resp.headers["content-type"].startswith("application/problem+json")
    assert "too long" in resp.json()["detail"]
    (again,) = await letters_of(api, event["id"])
    assert again["status"] == "open" and again["attempts"] == MAX_DELIVERIES + 1

    resolved = await api.ok(
        "POST", f"{OPS}/dead-letters/{letter['id']}/resolve", json={"note": "测试学校，不需要"}
    )
    assert resolved["status"] == "resolved" and resolved["note"] == "测试学校，不需要"
    assert resolved["resolved_by"] == api.username and resolved["resolved_at"]
    resp = await api.post(f"{OPS}/dead-letters/{letter['id']}/resolve", json={"note": "again"})
    assert resp.status_code == 409
    resp = await api.post(f"{OPS}/dead-letters/{letter['id']}/resolve", json={"note": ""})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"][-1] == "note"


async def test_replay_after_fix_applies_once(stack, api: Api, world: World, db, cleanup):
    """The subsidy projection refuses one school (the bug); after the fix a replay applies it once."""
    name = f"待修复学校{secrets.token_hex(3)}"
    constraint = f"nol_test_refuse_{secrets.token_hex(4)}"
    await db.execute(
        f"ALTER TABLE subsidy.school ADD CONSTRAINT {constraint} CHECK (name NOT LIKE '{name}%') NOT VALID"
    )
    try:
        school = await world.school("21", world.townships[0], ["primary"], name)
        event_id = await eventually(
            lambda: db.fetchval(
                "SELECT id::text FROM registry.outbox WHERE type = 'edu.registry.school.created' "
                "AND payload->>'subject' = $1",
                school["code"],
            )
        )
        cleanup.add(event_id)
        (letter,) = await letters_of(api, event_id)
        assert letter["attempts"] == MAX_DELIVERIES and constraint in letter["error"]
        # Not wedged: the next school reaches the projection while the letter waits.
        later = await world.school("21", world.townships[0], ["primary"], "后来的学校")
        await eventually(lambda: db.fetchval("SELECT 1 FROM subsidy.school WHERE code = $1", later["code"]))
    finally:
        await db.execute(f"ALTER TABLE subsidy.school DROP CONSTRAINT IF EXISTS {constraint}")  # the fix

    county = world.users["county"]
    assert (await county.post(f"{OPS}/dead-letters/{letter['id']}/replay")).status_code == 403
    replayed = await api.ok("POST", f"{OPS}/dead-letters/{letter['id']}/replay")
    assert replayed["status"] == "replayed" and replayed["resolved_by"] == api.username
    assert (
        await db.fetchval("SELECT name FROM subsidy.school WHERE code = $1", school["code"]) == school["name"]
    )
    assert (
        await db.fetchval("SELECT count(*) FROM subsidy.inbox WHERE event_id = $1", uuid.UUID(event_id)) == 1
    )
    resp = await api.post(f"{OPS}/dead-letters/{letter['id']}/replay")
    assert resp.status_code == 409  # no longer open

    # A letter whose event is in the inbox already: the replay changes nothing and closes it.
    number = await db.fetchval(
        "INSERT INTO subsidy.dead_letter (consumer, event_id, type, subject, stream_seq, payload, error, attempts) "
        "SELECT consumer, event_id, type, subject, stream_seq, payload, error, attempts "
        "FROM subsidy.dead_letter WHERE id = $1 RETURNING id",
        int(letter["id"].split("-")[1]),
    )
    again = await api.ok("POST", f"{OPS}/dead-letters/subsidy-{number}/replay")
    assert again["status"] == "replayed"
    assert (
        await db.fetchval("SELECT count(*) FROM subsidy.inbox WHERE event_id = $1", uuid.UUID(event_id)) == 1
    )


async def test_ops_admin_only(api: Api, world: World):
    for role in ("county", "school"):
        user = world.users[role]
        assert (await user.get(f"{OPS}/consumers")).status_code == 403
        assert (await user.get(f"{OPS}/dead-letters")).status_code == 403
        resp = await user.post(f"{OPS}/dead-letters/subsidy-1/resolve", json={"note": "x"})
        assert resp.status_code == 403
    assert (await api.client.get(f"{OPS}/consumers")).status_code == 401
    assert (await api.post(f"{OPS}/dead-letters/nowhere-1/replay")).status_code == 404
    assert (await api.post(f"{OPS}/dead-letters/subsidy-999999999/replay")).status_code == 404


async def test_readyz_ok_when_no_letter_is_open(stack, api: Api):
    """Runs after the others in this file: every letter they made is closed, so nothing is degraded."""
    body = await api.ok("GET", f"{OPS}/dead-letters", params={"status": "open"})
    if body["items"]:
        pytest.skip("another test left a letter open")
    resp = await readyz(stack)
    assert resp.status_code == 200 and resp.json()["status"] == "ok", resp.text
    assert resp.json()["reasons"] == []
