"""Bulk work never delays everyday events: an import travels as chunk events on consumers of their own.

An import writes one `edu.registry.bulk.students` event per chunk part; statistics, dropout and
subsidy apply it on a second durable consumer (`…-bulk`). While a county's import is provably stuck
(its projected rows locked by this test), another county's registration is projected at once; and
whatever the order of a chunk and an everyday event about the same student, the newer version wins.
"""

import json
import time
import uuid
from datetime import UTC, datetime

import asyncpg
import nats

import tests.conftest as session_fixtures
from tests.helpers import World, eventually
from tests.registry.imports_helpers import STUDENT_HEADER, csv_bytes, run_import, student_row

PROJECTIONS = {  # service -> (table, its student id column)
    "statistics": ("statistics.student_fact", "student_id"),
    "dropout": ("dropout.student", "id"),
    "subsidy": ("subsidy.student", "student_id"),
}
PROMPT = 5.0  # seconds: an everyday write of another county is projected within this, import or not


async def versions(db, ids: list[str]) -> dict[str, dict[str, int]]:
    """Each projection's version of each student it holds."""
    out = {}
    for service, (table, key) in PROJECTIONS.items():
        rows = await db.fetch(
            f"SELECT {key}::text AS id, version FROM {table} WHERE {key} = ANY($1::uuid[])",  # noqa: S608
            ids,
        )
        out[service] = {r["id"]: r["version"] for r in rows}
    return out


async def projected(db, ids: list[str], version: int = 1) -> bool:
    held = await versions(db, ids)
    return all(len(got) == len(ids) and all(v >= version for v in got.values()) for got in held.values())


async def other_county(world: World) -> World:
    code = f"61{9000 - next(session_fixtures._counties):04d}"
    return await World.create(world.admin, code=code, stack=world.stack)


async def test_other_countys_registration_is_projected_while_an_import_waits(world: World, db, owner_url):
    county = world.users["county"]
    content = csv_bytes(STUDENT_HEADER, [student_row(world) for _ in range(1200)])
    first = await run_import(county, "students", content)
    assert first["status"] == "done" and first["created"] >= 1190, first
    ids = [
        str(r["id"])
        for r in await db.fetch(
            "SELECT id FROM registry.student WHERE school_code = $1", world.schools["primary"]["code"]
        )
    ]
    await eventually(lambda: projected(db, ids), timeout=60)
    held = ids[0]
    # Lock one imported student's row in every projection: the re-import's chunk with it cannot apply.
    blocker = await asyncpg.connect(owner_url)
    try:
        await blocker.execute("BEGIN")
        for table, key in PROJECTIONS.values():
            await blocker.execute(f"SELECT 1 FROM {table} WHERE {key} = $1 FOR UPDATE", uuid.UUID(held))  # noqa: S608
        again = await run_import(county, "students", content)  # every row updated: version 2
        assert again["updated"] == first["created"], again
        elsewhere = await other_county(world)
        started = time.monotonic()
        resp = await elsewhere.users["county"].post("/api/v1/students", json=elsewhere.student_body())
        assert resp.status_code == 201, resp.text
        newcomer = resp.json()["id"]
        await eventually(lambda: projected(db, [newcomer]), timeout=PROMPT, interval=0.05)
        lag = time.monotonic() - started
        # The import is provably still pending: the held student's chunk is not applied anywhere.
        stuck = await versions(db, [held])
        assert all(got[held] == 1 for got in stuck.values()), stuck
        print(f"\nother county's registration projected in {lag * 1000:.0f} ms while the import waited")
    finally:
        await blocker.execute("ROLLBACK")
        await blocker.close()
    await eventually(lambda: projected(db, ids, version=2), timeout=60)


def _student(sid: str, world: World, version: int, name: str) -> dict:
    return {
        "id": sid, "name": name, "status": "enrolled", "school_code": world.schools["primary"]["code"],
        "area_code": world.townships[0], "stage": "primary", "grade": 3, "categories": [], "groups": [],
        "boarding": False, "id_number_masked": "610000********0000", "birth_date": "2017-03-01",
        "version": version,
    }  # fmt: skip


def _everyday(sid: str, world: World, version: int, name: str) -> dict:
    data = _student(sid, world, version, name)
    data.pop("version")
    return {
        "id": str(uuid.uuid4()), "type": "edu.registry.student.updated", "source": "registry",
        "time": datetime.now(UTC).isoformat(), "subject": sid, "area_code": world.townships[0],
        "school_code": world.schools["primary"]["code"], "version": version, "data": data,
    }  # fmt: skip


def _chunk(students: list[dict], world: World) -> dict:
    return {
        "id": str(uuid.uuid4()), "type": "edu.registry.bulk.students", "source": "registry",
        "time": datetime.now(UTC).isoformat(), "subject": str(uuid.uuid4()), "area_code": world.townships[0],
        "data": {"job_id": str(uuid.uuid4()), "chunk": 1, "part": 1,
                 "students": [s | {"event": "updated" if s["version"] > 1 else "created"} for s in students]},
    }  # fmt: skip


async def test_newer_version_wins_whatever_the_order_of_chunk_and_everyday_event(world: World, db, stack):
    """A chunk and an everyday event about the same students, each order: the newer version stays."""
    env = stack.env
    prefix = env.get("NOL_SUBJECT_PREFIX") or "edu"
    early, late = str(uuid.uuid4()), str(uuid.uuid4())  # everyday first / chunk first
    nc = await nats.connect(env["NOL_NATS_URL"].split(",")[0])
    try:
        js = nc.jetstream()

        async def publish(event: dict) -> None:
            subject = f"{prefix}.{event['type'].partition('.')[2]}"
            await js.publish(subject, json.dumps(event).encode(), stream=env.get("NOL_STREAM") or "EDU",
                             headers={"Nats-Msg-Id": event["id"]})  # fmt: skip

        await publish(_everyday(early, world, 5, "新名字"))  # newer, applied first
        await eventually(lambda: projected(db, [early], version=5), timeout=30)
        await publish(
            _chunk([_student(early, world, 3, "旧名字"), _student(late, world, 5, "新名字")], world)
        )
        await eventually(lambda: projected(db, [late], version=5), timeout=30)
        await publish(_everyday(late, world, 3, "旧名字"))  # older, after the chunk
        marker = str(uuid.uuid4())  # applied after the older event by the same consumers: it has been seen
        await publish(_everyday(marker, world, 1, "标记"))
        await eventually(lambda: projected(db, [marker]), timeout=30)
    finally:
        await nc.close()
    assert await versions(db, [early, late]) == {s: {early: 5, late: 5} for s in PROJECTIONS}
    names = {
        "statistics": "SELECT name FROM statistics.student_fact WHERE student_id = $1",
        "dropout": "SELECT name FROM dropout.student WHERE id = $1",
        "subsidy": "SELECT name FROM subsidy.student WHERE student_id = $1",
    }
    for sql in names.values():
        assert [await db.fetchval(sql, uuid.UUID(s)) for s in (early, late)] == ["新名字", "新名字"]
    spans = await db.fetchval(
        "SELECT count(*) FROM statistics.enrollment_span WHERE student_id = $1 AND valid_to IS NULL",
        uuid.UUID(late),
    )
    assert spans == 1
