"""An import in progress when its process is killed is resumed, from the first row not yet stored."""

import asyncio
import signal
import time

from services.registry.imports.service import RESUMED
from tests.helpers import World
from tests.registry.imports_helpers import STUDENT_HEADER, csv_bytes, student_row, upload

ROWS = 3000


async def test_import_killed_midway_is_resumed_without_duplicates(world: World, stack, db):
    county = world.users["county"]
    school = world.schools["primary"]["code"]
    resp = await upload(county, "students", csv_bytes(STUDENT_HEADER, [student_row(world) for _ in range(ROWS)]))
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]

    # Kill the registry once part of the file is stored, not all of it.
    deadline = time.monotonic() + 120
    while True:
        job = await county.ok("GET", f"/api/v1/imports/{job_id}")
        if 0 < job["processed"] < ROWS and job["status"] == "running":
            break
        assert job["status"] in ("queued", "running") and time.monotonic() < deadline, job
        await asyncio.sleep(0.02)
    stored_before = job["processed"]
    stack.stop_process("registry", sig=signal.SIGKILL)
    stack.spawn("registry")
    await asyncio.to_thread(stack.wait_ready, ["registry"], 120)

    deadline = time.monotonic() + 180
    while True:
        resp = await county.get(f"/api/v1/imports/{job_id}")
        if resp.status_code == 200 and resp.json()["status"] in ("done", "failed"):
            job = resp.json()
            break
        assert time.monotonic() < deadline, resp.text
        await asyncio.sleep(0.5)

    assert job["status"] == "done", job
    assert job["detail"] == RESUMED
    assert job["processed"] == ROWS and job["processed"] > stored_before
    # every row once: stored (new, or an update of a student the file names twice), or refused with a reason
    assert job["created"] + job["updated"] + job["error_count"] == ROWS, job
    # Random test ID numbers collide now and then (within the file or with other tests' students):
    # those rows are refused on the ID number, nothing else.
    assert job["created"] >= ROWS * 0.97, job["errors"][:5]
    assert all(e["field"] == "身份证号" for e in job["errors"]), job["errors"][:5]
    stored = await db.fetchval("SELECT count(*) FROM registry.student WHERE school_code = $1", school)
    assert stored == job["created"]
