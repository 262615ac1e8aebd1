"""Disabled children: one placement per child and year; home-teaching sessions for home-taught ones."""

from tests.dropout.helpers import events, student
from tests.helpers import World

PLACEMENTS = "/api/v1/disability/placements"
SESSIONS = "/api/v1/disability/home-teaching-sessions"
DISABILITY = {"groups": ["disabled"], "disability": {"category": "physical", "grade": 2}}


async def disabled(world: World, db, school: str = "primary", **kw) -> dict:
    return await student(world, db, school, **DISABILITY, **kw)


class TestPlacements:
    async def test_one_per_child_and_year(self, world: World, db):
        s = await disabled(world, db)
        school = world.users["school"]
        p = await school.ok(
            "POST", PLACEMENTS, 201, json={"student_id": s["id"], "placement": "regular_class", "year": 2026}
        )
        assert (p["placement"], p["student_name"], p["version"]) == ("regular_class", s["name"], 1)
        resp = await school.post(
            PLACEMENTS, json={"student_id": s["id"], "placement": "special_school", "year": 2026}
        )
        assert resp.status_code == 409
        await school.ok(
            "POST", PLACEMENTS, 201, json={"student_id": s["id"], "placement": "special_school", "year": 2025}
        )
        changed = await school.ok(
            "PATCH",
            f"{PLACEMENTS}/{p['id']}",
            json={"placement": "exempt", "reason": "重度残疾，医学证明", "version": 1},
        )
        assert (changed["placement"], changed["version"]) == ("exempt", 2)
        assert (
            await school.patch(f"{PLACEMENTS}/{p['id']}", json={"placement": "deferred", "version": 1})
        ).status_code == 409
        recorded = await events(db, "edu.dropout.placement.recorded", placement_id=p["id"])
        assert [(e["data"]["placement"], e["data"]["year"], e["data"]["has_reason"]) for e in recorded] == [
            ("regular_class", 2026, False),
            ("exempt", 2026, True),
        ]
        listed = await world.users["county"].ok(
            "GET", PLACEMENTS, params={"year": 2026, "student_id": s["id"]}
        )
        assert [x["id"] for x in listed["items"]] == [p["id"]]

    async def test_bad_input_422(self, world: World, db):
        s = await disabled(world, db)
        plain = await student(world, db)
        school = world.users["school"]
        for body, loc in (
            ({"student_id": s["id"], "placement": "exempt", "year": 2026}, ["reason"]),
            ({"student_id": s["id"], "placement": "deferred", "year": 2026, "reason": ""}, ["reason"]),
            ({"student_id": plain["id"], "placement": "regular_class", "year": 2026}, ["student_id"]),
            ({"student_id": s["id"], "placement": "boarding", "year": 2026}, ["placement"]),
            ({"student_id": s["id"], "placement": "regular_class", "year": 1990}, ["year"]),
        ):
            resp = await school.post(PLACEMENTS, json=body)
            assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc, body

    async def test_roles_and_scope(self, world: World, db):
        s = await disabled(world, db, village=world.villages[0])
        other = await disabled(world, db, "junior")
        body = {"student_id": s["id"], "placement": "regular_class", "year": 2026}
        for role in ("village", "township"):
            assert (await world.users[role].post(PLACEMENTS, json=body)).status_code == 403, role
        p = await world.users["county"].ok("POST", PLACEMENTS, 201, json=body)
        q = await world.users["county"].ok("POST", PLACEMENTS, 201, json={**body, "student_id": other["id"]})
        assert (await world.users["village"].ok("GET", f"{PLACEMENTS}/{p['id']}"))["id"] == p["id"]
        for role in ("school", "village", "township"):
            assert (await world.users[role].get(f"{PLACEMENTS}/{q['id']}")).status_code == 404, role


class TestHomeTeachingSessions:
    async def test_log_for_a_home_taught_child(self, world: World, db):
        s = await disabled(world, db)
        school = world.users["school"]
        session = {
            "student_id": s["id"],
            "date": "2026-10-14",
            "teacher": "李老师",
            "duration_minutes": 90,
            "content": "语文：识字；康复训练",
        }
        resp = await school.post(SESSIONS, json=session)
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "no_home_teaching"
        await school.ok(
            "POST", PLACEMENTS, 201, json={"student_id": s["id"], "placement": "home_teaching", "year": 2026}
        )
        logged = await school.ok("POST", SESSIONS, 201, json=session)
        assert (logged["teacher"], logged["duration_minutes"]) == ("李老师", 90)
        for bad, loc in (
            ({"duration_minutes": 0}, ["duration_minutes"]),
            ({"date": "2099-01-05"}, ["date"]),
            ({"teacher": ""}, ["teacher"]),
        ):
            resp = await school.post(SESSIONS, json={**session, **bad})
            assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc, bad
        listed = await world.users["county"].ok("GET", SESSIONS, params={"student_id": s["id"]})
        assert [x["id"] for x in listed["items"]] == [logged["id"]]
        assert (await world.users["village"].ok("GET", SESSIONS))[
            "items"
        ] == []  # no household in the village
        (e,) = await events(db, "edu.dropout.session.recorded", session_id=logged["id"])
        assert (e["data"]["year"], e["data"]["duration_minutes"]) == (2026, 90)
        assert (await world.users["village"].post(SESSIONS, json=session)).status_code == 403
