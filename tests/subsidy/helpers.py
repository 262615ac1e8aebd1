"""Subsidy test helpers: policies, students with the right traits, waiting for the projection."""

import itertools
import secrets
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.contracts.calendar import today as local_today
from services.subsidy.domain import current_semester
from tests.helpers import Api, World, eventually

TODAY = local_today()
PAST = "2026-spring" if TODAY >= date(2026, 8, 1) else "2025-autumn"
PAST_YEAR = int(PAST[:4])
CURRENT = current_semester()
POSTED = (TODAY - timedelta(days=5)).isoformat()  # a notice posted five days ago has run its course
_codes = itertools.count(1)


def policy_body(**over: Any) -> dict:
    body = {
        "code": f"T{secrets.token_hex(3)}-{next(_codes)}",
        "name": "义务教育家庭经济困难寄宿生生活补助（小学）",
        "kind": "living_allowance",
        "stages": ["primary"],
        "categories": ["registered_poor", "dibao", "tekun", "orphan", "disabled"],
        "boarding_only": True,
        "amount_fen": 62500,
        "years": sorted({PAST_YEAR, TODAY.year, int(CURRENT[:4])}),
    }
    body.update(over)
    return body


async def make_policy(api: Api, **over: Any) -> dict:
    return await api.ok("POST", "/api/v1/subsidy/policies", 201, json=policy_body(**over))


async def add_student(
    world: World,
    school: str = "primary",
    *,
    boarding: bool = True,
    groups: list[str] | None = None,
    status: str = "enrolled",
    as_: Api | None = None,
    **kw: Any,
) -> dict:
    """Register a student (an orphan boarder by default: eligible for the default policy)."""
    body = world.student_body(school, groups=["orphan"] if groups is None else groups, **kw)
    body["enrollment"]["boarding"] = boarding
    body["enrollment"]["status"] = status
    return await (as_ or world.users["county"]).ok("POST", "/api/v1/students", 201, json=body)


async def projected(db, *students: dict, schools: list[str] = ()) -> None:
    """Wait until the subsidy service holds these students (at their versions) and schools."""
    ids = [s["id"] for s in students]
    want = {s["id"]: s["version"] for s in students}

    async def check():
        rows = await db.fetch(
            "SELECT student_id::text AS id, version FROM subsidy.student WHERE student_id::text = ANY($1)",
            ids,
        )
        have = {r["id"]: r["version"] for r in rows}
        n = await db.fetchval("SELECT count(*) FROM subsidy.school WHERE code = ANY($1)", list(schools))
        return all(have.get(i, 0) >= v for i, v in want.items()) and n == len(schools)

    await eventually(check, timeout=10)


async def world_projected(db, world: World, *students: dict) -> None:
    await projected(db, *students, schools=[s["code"] for s in world.schools.values()])


async def make_batch(
    api: Api, world: World, policy: dict, semester: str = PAST, school: str = "primary", **kw
):
    body = {
        "school_code": world.schools[school]["code"],
        "semester": semester,
        "policy_code": policy["code"],
        **kw,
    }
    return await api.ok("POST", "/api/v1/subsidy/batches", 201, json=body)


async def act(api: Api, batch: dict, action: str, status: int = 200, **body: Any) -> dict:
    return await api.ok("POST", f"/api/v1/subsidy/batches/{batch['id']}/{action}", status, json=body or None)


async def approve_and_pay(world: World, batch: dict, *, posted: str = POSTED) -> dict:
    """Walk a draft batch through submit, township, county and payment."""
    u = world.users
    await act(u["school"], batch, "submit", publicity_start=posted)
    await act(u["township"], batch, "approve")
    await act(u["county"], batch, "approve")
    return await act(u["county"], batch, "pay", paid_on=TODAY.isoformat(), reference="GK2026-001")


async def events(db, event_type: str, subject: str | None = None) -> list[dict]:
    """The subsidy outbox's events of a type (optionally about one subject)."""
    import json

    rows = await db.fetch(
        "SELECT payload FROM subsidy.outbox WHERE type = $1 AND ($2::text IS NULL OR subject = $2) "
        "ORDER BY created_at",
        event_type,
        subject,
    )
    return [json.loads(r["payload"]) for r in rows]


@dataclass
class Roster:
    """A primary school with one student per exclusion reason and one eligible."""

    eligible: dict
    day_pupil: dict
    no_category: dict
    suspended: dict


async def roster(world: World, db) -> Roster:
    r = Roster(
        eligible=await add_student(world),
        day_pupil=await add_student(world, boarding=False),
        no_category=await add_student(world, groups=[]),
        suspended=await add_student(world, status="suspended"),
    )
    await world_projected(db, world, r.eligible, r.day_pupil, r.no_category, r.suspended)
    return r
