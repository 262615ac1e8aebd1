"""JSON logs and traces (issue 19): every line JSON when asked, uvicorn's too; one access line per request;
one trace id from a gateway request through the service that wrote to the consumer that applied its event."""

import json
from pathlib import Path

import pytest

from deploy.stack import Stack
from tests.helpers import World, eventually

ASKED = {"NOL_LOG_JSON": "true", "NOL_LOG_LEVEL": "DEBUG"}


@pytest.fixture(scope="module")
def dropout_log(stack: Stack):
    """The dropout service restarted with JSON logs at debug level; its log from then on."""
    path = stack.log_dir / "dropout.log"
    stack.stop_process("dropout")
    start = path.stat().st_size if path.exists() else 0  # after the old process's last words
    saved = {k: stack.env.get(k) for k in ASKED}
    stack.env.update(ASKED)
    try:
        stack.spawn("dropout")
    finally:
        for k, v in saved.items():
            if v is None:
                stack.env.pop(k, None)
            else:
                stack.env[k] = v
    stack.wait_ready(["dropout"])
    yield path, start
    stack.restart("dropout")
    stack.wait_ready(["dropout"])


def lines(log: tuple[Path, int]) -> list[str]:
    path, start = log
    with path.open("rb") as f:
        f.seek(start)
        return [line for line in f.read().decode("utf-8", errors="replace").splitlines() if line.strip()]


def records(log: tuple[Path, int]) -> list[dict]:
    return [json.loads(line) for line in lines(log)]


def trace_of(resp) -> tuple[str, str]:
    """The (trace id, span id) the gateway names in `traceresponse`."""
    version, trace_id, span_id, _flags = resp.headers["traceresponse"].split("-")
    assert version == "00" and len(trace_id) == 32
    return trace_id, span_id


async def test_one_trace_links_gateway_service_and_consumer(dropout_log, world: World, db):
    resp = await world.admin.post(
        "/api/v1/students", json=world.student_body("junior", stage="junior", grade=1)
    )
    assert resp.status_code == 201, resp.text
    trace_id, gateway_span = trace_of(resp)
    # The registry continued the gateway's trace in a span of its own and put it in the event envelope.
    event = await db.fetchrow(
        "SELECT id, payload->>'traceparent' AS parent FROM registry.outbox "
        "WHERE subject = $1 AND type = 'edu.registry.student.created'",
        resp.json()["id"],
    )
    _, event_trace, event_span, _ = event["parent"].split("-")
    assert event_trace == trace_id and event_span != gateway_span

    # The dropout consumer applied that event in the same trace.
    async def applied():
        return [
            r
            for r in records(dropout_log)
            if r.get("event") == "event applied" and r.get("event_id") == str(event["id"])
        ]

    found = await eventually(applied, timeout=30)
    assert found[0]["consumer"] == "dropout-students"
    assert found[0]["trace_id"] == trace_id


async def test_every_line_is_json_with_an_access_line_per_request(dropout_log, world: World):
    county = world.users["county"]
    resp = await county.get(
        "/api/v1/dropout/cases",
        params={"limit": 1, "q": "110101201001011234"},
        headers={"X-Request-ID": "log-test-1"},
    )
    assert resp.status_code in (200, 422), resp.text
    trace_id, _ = trace_of(resp)

    async def access():
        return [
            r
            for r in records(dropout_log)
            if r.get("event") == "access" and r.get("request_id") == "log-test-1"
        ]

    (line,) = await eventually(access, timeout=10)
    assert line["method"] == "GET" and line["route"] == "/api/v1/dropout/cases"
    assert line["status"] == resp.status_code and line["duration_ms"] >= 0
    assert line["trace_id"] == trace_id and line["principal"]
    raw = json.dumps(line)
    assert county.token not in raw and "110101201001011234" not in raw  # no token, no query (an ID number)

    every = lines(dropout_log)
    parsed = [json.loads(text) for text in every]  # any text line fails here
    assert all(isinstance(r, dict) and "event" in r and "timestamp" in r for r in parsed)
    assert any(r.get("logger", "").startswith("uvicorn") for r in parsed), "uvicorn's own lines are missing"
