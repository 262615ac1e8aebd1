"""Posting absences: one or a list, idempotent per student and date, school days only, in scope."""

from datetime import timedelta

from services.contracts.calendar import today as local_today
from tests.dropout.helpers import ABSENCES, absence, events, post, student
from tests.helpers import World


class TestPostAbsences:
    async def test_one_then_same_again_is_a_no_op(self, world: World, db):
        s = await student(world, db)
        school = world.users["school"]
        first = await post(school, absence(s, "2026-10-12", "sick"))
        assert first["created"] == 1 and first["items"][0]["result"] == "created"
        again = await post(school, absence(s, "2026-10-12", "sick"))
        assert again["unchanged"] == 1 and again["created"] == again["updated"] == 0
        listed = await school.ok("GET", ABSENCES, params={"student_id": s["id"]})
        assert len(listed["items"]) == 1 and listed["items"][0]["version"] == 1
        assert len(await events(db, "edu.dropout.absence.recorded", student_id=s["id"])) == 1

    async def test_changed_reason_updates(self, world: World, db):
        s = await student(world, db)
        school = world.users["school"]
        await post(school, absence(s, "2026-10-13", "unexplained"))
        changed = await post(school, [absence(s, "2026-10-13", "leave", note="家长补假条")])
        assert changed["updated"] == 1
        got = (await school.ok("GET", ABSENCES, params={"student_id": s["id"]}))["items"][0]
        assert (got["reason"], got["note"], got["version"]) == ("leave", "家长补假条", 2)
        recorded = await events(db, "edu.dropout.absence.recorded", student_id=s["id"])
        assert [e["data"]["previous_reason"] for e in recorded] == [None, "unexplained"]
        assert recorded[-1]["data"]["school_code"] == world.schools["primary"]["code"]
        assert recorded[-1]["data"]["compulsory"] is True

    async def test_list_keeps_valid_items_and_reports_the_others(self, world: World, db):
        a, b = await student(world, db), await student(world, db)
        tomorrow = (local_today() + timedelta(days=2)).isoformat()
        body = [
            absence(a, "2026-10-14"),
            absence(b, "2026-10-14", "sick"),
            absence(a, "2026-10-17"),  # a Saturday
            absence(b, tomorrow),
            {"student_id": "00000000-0000-0000-0000-000000000001", "date": "2026-10-14", "reason": "sick"},
            absence(a, "2026-10-14", "sick"),  # repeated in the request
        ]
        got = await post(world.users["school"], body)
        assert [i["result"] for i in got["items"]] == [
            "created",
            "created",
            "error",
            "error",
            "error",
            "error",
        ]
        codes = [i["error"]["code"] for i in got["items"][2:]]
        assert codes == ["not_a_school_day", "future_date", "unknown_student", "duplicate"]
        assert got["items"][2]["error"]["loc"] == [2, "date"]
        assert (got["created"], got["failed"]) == (2, 4)

    async def test_single_invalid_is_422_naming_the_field(self, world: World, db):
        s = await student(world, db)
        resp = await world.users["school"].post(ABSENCES, json=absence(s, "2026-10-18"))  # Sunday
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["date"]
        resp = await world.users["school"].post(ABSENCES, json=absence(s, "2026-10-19", "truant"))
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["reason"]

    async def test_other_schools_student_is_404(self, world: World, db):
        s = await student(world, db, "junior", stage="junior", grade=1)
        resp = await world.users["school"].post(ABSENCES, json=absence(s, "2026-10-19"))
        assert resp.status_code == 404
        # The county may post for any school in it.
        await post(world.users["county"], absence(s, "2026-10-19"))

    async def test_roles_that_do_not_post_403(self, world: World, db):
        s = await student(world, db)
        for role in ("village", "township"):
            resp = await world.users[role].post(ABSENCES, json=absence(s, "2026-10-19"))
            assert resp.status_code == 403, role

    async def test_a_holiday_is_not_a_school_day(self, world: World, db):
        s = await student(world, db)
        county = world.users["county"]
        await county.ok(
            "PUT", "/api/v1/dropout/calendar/2026", json={"days": [{"date": "2026-10-21", "kind": "holiday"}]}
        )
        resp = await world.users["school"].post(ABSENCES, json=absence(s, "2026-10-21"))
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "not_a_school_day"


class TestListAbsences:
    async def test_filters_and_scope(self, world: World, db):
        mine = await student(world, db, village=world.villages[0])
        other = await student(world, db, "junior", village=world.villages[2])
        county = world.users["county"]
        await post(
            county,
            [absence(mine, "2026-10-12"), absence(mine, "2026-10-20", "sick"), absence(other, "2026-10-12")],
        )
        school = (await world.users["school"].ok("GET", ABSENCES))["items"]
        assert {a["student_id"] for a in school} == {mine["id"]}
        village = (await world.users["village"].ok("GET", ABSENCES))["items"]
        assert {a["student_id"] for a in village} == {mine["id"]}
        ranged = await county.ok(
            "GET",
            ABSENCES,
            params={"date_from": "2026-10-13", "school_code": mine["enrollment"]["school_code"]},
        )
        assert [a["date"] for a in ranged["items"]] == ["2026-10-20"]
        junior = await county.ok("GET", ABSENCES, params={"school_code": world.schools["junior"]["code"]})
        assert [a["student_id"] for a in junior["items"]] == [other["id"]]
        assert (await county.get(ABSENCES, params={"date_from": "yesterday"})).status_code == 422
