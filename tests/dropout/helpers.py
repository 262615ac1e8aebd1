"""Helpers of the dropout tests: students that reached the projection, absences, events."""

import json
import secrets
import uuid
from typing import Any

import httpx

from tests.helpers import Api, World, eventually

ABSENCES = "/api/v1/attendance/absences"
CASES = "/api/v1/dropout/cases"
CHECKS = "/api/v1/dropout/checks/run"
# October 2026: Thu 1, Fri 2, Sat 3, Sun 4, Mon 5 ... Fri 9, Sat 10, Sun 11, Mon 12 ...


async def projected(db, student_id: str, *, version: int = 1, timeout: float = 10) -> Any:
    """Wait until the dropout service holds the student (at least this version)."""

    async def check():
        row = await db.fetchrow(
            "SELECT version, status FROM dropout.student WHERE id = $1", uuid.UUID(student_id)
        )
        return row if row and row["version"] >= version else None

    return await eventually(check, timeout=timeout)


async def household(world: World, village: str) -> dict:
    return await world.admin.ok(
        "POST",
        "/api/v1/households",
        201,
        json={
            "head_name": "王建国",
            "area_code": village,
            "platform_id": secrets.token_hex(6),
            "statuses": [],
        },
    )


async def student(world: World, db, school: str = "primary", *, village: str | None = None, **kw) -> dict:
    """Register a student (in a household of `village` if given) and wait for the projection."""
    if village:
        kw["household_id"] = (await household(world, village))["id"]
    s = await world.student(school, **kw)
    await projected(db, s["id"])
    return s


def absence(s: dict, day: str, reason: str = "unexplained", **kw) -> dict:
    return {"student_id": s["id"], "date": day, "reason": reason, **kw}


async def post(api: Api, body: Any, status: int = 200) -> dict:
    return await api.ok("POST", ABSENCES, status, json=body)


async def cases_of(api: Api, s: dict) -> list[dict]:
    return (await api.ok("GET", CASES, params={"student_id": s["id"]}))["items"]


async def events(db, event_type: str, **match: Any) -> list[dict]:
    """Events of a type in the dropout outbox whose data has the given values."""
    rows = await db.fetch(
        "SELECT payload FROM dropout.outbox WHERE type = $1 ORDER BY created_at", event_type
    )
    out = []
    for r in rows:
        payload = json.loads(r["payload"]) if isinstance(r["payload"], str) else r["payload"]
        if all(payload["data"].get(k) == v for k, v in match.items()):
            out.append(payload)
    return out


def direct(api: Api) -> Api:
    """The same caller on the dropout service itself (the gateway's GET /tasks merges services and
    forwards no filters); services listen on the ports after the gateway's, dropout third."""
    url = api.client.base_url
    client = httpx.AsyncClient(base_url=f"{url.scheme}://{url.host}:{url.port + 3}", timeout=30)
    return Api(client, api.token, api.username)


async def tasks(api: Api, **params: Any) -> list[dict]:
    """The caller's dropout tasks, filtered."""
    own = direct(api)
    async with own.client:
        return (await own.ok("GET", "/api/v1/tasks", params=params))["items"]
