"""Offline village apps: client-generated ids (a write sent twice is stored once) and a fast phone clock."""

import uuid
from datetime import UTC, datetime, timedelta

from tests.dropout.helpers import ABSENCES, CASES, absence, events, student
from tests.helpers import World, eventually

PAIRINGS = "/api/v1/support/pairings"


class TestClientIds:
    async def test_a_home_visit_sent_twice_with_one_id_is_stored_once(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        case = await world.users["county"].ok("POST", CASES, 201, json={"student_id": s["id"]})
        village = world.users["village"]
        visit = {
            "id": str(uuid.uuid4()),
            "kind": "home_visit",
            "outcome": "reached",
            "note": "家访，家长在家",
        }
        path = f"{CASES}/{case['id']}/actions"
        first = await village.ok("POST", path, 201, json=visit)
        # The answer was lost on a weak network: the app sends the same visit again, later.
        again = await village.ok("POST", path, 200, json=visit)
        assert [a["id"] for a in again["actions"]] == [a["id"] for a in first["actions"]] == [visit["id"]]
        assert again["version"] == first["version"]
        assert len(await events(db, "edu.dropout.case.action_recorded", action_id=visit["id"])) == 1
        # The same id with other content is a different record under a taken id: 409, nothing written.
        resp = await village.post(path, json={**visit, "note": "另一次家访"})
        assert resp.status_code == 409 and resp.json()["type"].endswith("/id_conflict"), resp.text
        assert resp.json()["errors"][0]["loc"] == ["id"]
        got = await village.ok("GET", f"{CASES}/{case['id']}")
        assert len(got["actions"]) == 1 and got["actions"][0]["note"] == visit["note"]
        # The village's change feed has the case with its one visit.

        async def in_feed():
            feed = await village.ok("GET", "/api/v1/changes/cases", params={"limit": 1000})
            return [e for e in feed["items"] if e["id"] == case["id"] and e["op"] == "upsert"]

        mine = await eventually(in_feed)
        assert [a["id"] for a in mine[-1]["item"]["actions"]] == [visit["id"]]

    async def test_absences_and_records_with_client_ids(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        school, county = world.users["school"], world.users["county"]
        one = absence(s, "2026-10-12", "sick", id=str(uuid.uuid4()))
        first = await school.ok("POST", ABSENCES, json=one)
        assert (first["created"], first["items"][0]["absence_id"]) == (1, one["id"])
        again = await school.ok("POST", ABSENCES, json=[one])
        assert (again["created"], again["unchanged"], again["items"][0]["absence_id"]) == (0, 1, one["id"])
        resp = await school.post(ABSENCES, json={**one, "reason": "leave"})
        assert resp.status_code == 409 and resp.json()["type"].endswith("/id_conflict")
        # In a list the taken id is that item's error; the others are recorded.
        listed = await school.ok(
            "POST", ABSENCES, json=[{**one, "date": "2026-10-13"}, absence(s, "2026-10-14", "sick")]
        )
        assert [i["result"] for i in listed["items"]] == ["error", "created"]
        assert listed["items"][0]["error"]["code"] == "id_conflict"
        rows = await db.fetch("SELECT reason FROM dropout.absence WHERE student_id = $1", uuid.UUID(s["id"]))
        assert sorted(r["reason"] for r in rows) == ["sick", "sick"]
        # A helper's record (纪实手册) too.
        pairing = await county.ok(
            "POST",
            PAIRINGS,
            201,
            json={"student_id": s["id"], "helper": {"name": "李建军", "phone": "13800000000"}},
        )
        record = {"id": str(uuid.uuid4()), "kind": "home_visit", "note": "走访"}
        rpath = f"{PAIRINGS}/{pairing['id']}/records"
        assert (await county.ok("POST", rpath, 201, json=record))["id"] == record["id"]
        assert (await county.ok("POST", rpath, 200, json=record))["id"] == record["id"]
        assert len((await county.ok("GET", rpath))["items"]) == 1
        assert (await county.post(rpath, json={**record, "kind": "contact"})).status_code == 409


class TestPhoneClock:
    async def test_a_time_a_little_ahead_is_taken_as_now_further_ahead_refused(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        case = await world.users["county"].ok("POST", CASES, 201, json={"student_id": s["id"]})
        village, path = world.users["village"], f"{CASES}/{case['id']}/actions"
        ahead = datetime.now(UTC) + timedelta(minutes=6)  # a phone's clock six minutes fast
        got = await village.ok("POST", path, 201, json={"kind": "contact", "occurred_at": ahead.isoformat()})
        stored = datetime.fromisoformat(got["actions"][0]["occurred_at"])
        assert stored <= datetime.now(UTC) and stored > ahead - timedelta(minutes=7)
        far = datetime.now(UTC) + timedelta(minutes=30)
        resp = await village.post(path, json={"kind": "contact", "occurred_at": far.isoformat()})
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
        assert resp.json()["errors"][0]["loc"] == ["occurred_at"]
        assert len((await village.ok("GET", f"{CASES}/{case['id']}"))["actions"]) == 1


class TestMergedTasksPaged:
    async def test_tasks_a_page_at_a_time_and_changed_since(self, world: World, db):
        school = world.users["school"]
        kids = [await student(world, db) for _ in range(3)]
        await school.ok("POST", ABSENCES, json=[absence(k, "2026-10-12") for k in kids])
        whole = (await school.ok("GET", "/api/v1/tasks"))["items"]  # the old shape: one page, no cursor
        mine = [t["id"] for t in whole if t["source"] == "dropout"]
        assert len(mine) == 3
        pages, cursor = [], None
        while True:
            page = await school.ok(
                "GET", "/api/v1/tasks", params={"limit": 2, **({"cursor": cursor} if cursor else {})}
            )
            pages.append(page["items"])
            cursor = page["next_cursor"]
            if cursor is None:
                break
        assert all(len(p) <= 2 for p in pages) and len(pages) >= 2
        assert [t.get("id") for p in pages for t in p] == [t.get("id") for t in whole]
        # Sync: only what changed since, including a task done meanwhile (status=all).
        since = datetime.now(UTC).isoformat()
        await school.ok("POST", f"/api/v1/tasks/{mine[0]}/complete", json={"note": "已联系家长"})
        changed = await school.ok("GET", "/api/v1/tasks", params={"updated_since": since, "status": "all"})
        got = [t for t in changed["items"] if t["source"] == "dropout"]
        assert [(t["id"], t["status"]) for t in got] == [(mine[0], "done")]
        bad = await school.get("/api/v1/tasks", params={"cursor": "bm90LWEtY3Vyc29y"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["cursor"]
