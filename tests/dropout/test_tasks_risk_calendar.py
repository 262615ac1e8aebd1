"""Tasks for each role, the early-warning score, and the school calendar."""

from tests.dropout.helpers import absence, direct, events, post, student, tasks
from tests.helpers import World

RISK = "/api/v1/dropout/risk"
CALENDAR = "/api/v1/dropout/calendar"


class TestTasks:
    async def test_each_role_sees_its_own(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        await post(world.users["school"], [absence(s, d) for d in ("2026-10-12", "2026-10-13", "2026-10-14")])
        kinds = {role: [t["kind"] for t in await tasks(world.users[role])] for role in world.users}
        assert kinds == {
            "county": ["review_case"],
            "township": ["review_case"],
            "school": ["persuade"],
            "village": ["home_visit"],
        }
        (visit,) = await tasks(world.users["village"])
        assert (visit["student_name"], visit["title"]) == (s["name"], f"家访：{s['name']}，劝其返校")
        assert len(await tasks(world.admin, student_id=s["id"])) == 4  # the admin: every role, its area
        # Through the gateway, which merges every service's tasks for the phone.
        merged = (await world.users["village"].ok("GET", "/api/v1/tasks"))["items"]
        assert [(t["kind"], t["source"]) for t in merged] == [("home_visit", "dropout")]

    async def test_complete_by_hand(self, world: World, db):
        s = await student(world, db)
        await post(world.users["school"], absence(s, "2026-10-12"))
        (todo,) = await tasks(world.users["school"])
        url = f"/api/v1/tasks/{todo['id']}/complete"
        assert (await world.users["county"].post(url, json={})).status_code == 404  # not the county's task
        done = await world.users["school"].ok("POST", url, json={"note": "已电话联系家长"})
        assert (done["status"], done["done_by"]) == ("done", world.users["school"].username)
        assert (await world.users["school"].post(url, json={})).status_code == 409
        assert await tasks(world.users["school"]) == []
        own = direct(world.users["school"])
        async with own.client:
            assert (await own.get("/api/v1/tasks", params={"status": "late"})).status_code == 422


class TestRisk:
    async def test_transparent_factors_sorted_within_scope(self, world: World, db):
        quiet = await student(world, db, grade=3)
        left = await student(world, db, grade=6, groups=["left_behind"], village=world.villages[0])
        absent = await student(world, db, grade=2)
        other = await student(world, db, "junior", groups=["left_behind", "orphan"])
        await post(
            world.users["county"],
            [
                absence(absent, "2026-10-12"),
                absence(absent, "2026-10-13", "sick"),
                absence(absent, "2026-10-15"),
                absence(other, "2026-10-12"),
            ],
        )
        got = await world.users["school"].ok("GET", RISK, params={"as_of": "2026-10-16"})
        assert [(i["student_id"], i["score"]) for i in got["items"]] == [
            (absent["id"], 22),
            (left["id"], 20),
            (quiet["id"], 0),
        ]
        assert got["items"][0]["factors"] == [
            {
                "factor": "unexplained_absences",
                "points": 20,
                "detail": "2 unexplained in the last 20 school days",
            },
            {"factor": "other_absences", "points": 2, "detail": "1 sick or leave in the last 20 school days"},
        ]
        assert [(f["factor"], f["points"]) for f in got["items"][1]["factors"]] == [
            ("grade_transition", 10),
            ("left_behind", 10),
        ]
        assert got["items"][1]["level"] == "medium" and got["items"][2]["factors"] == []
        # Long after, the absences have left the window; the village sees only its own students.
        later = await world.users["school"].ok("GET", RISK, params={"as_of": "2026-12-31", "min_score": 1})
        assert [i["student_id"] for i in later["items"]] == [left["id"]]
        village = await world.users["village"].ok("GET", RISK, params={"as_of": "2026-10-16"})
        assert [i["student_id"] for i in village["items"]] == [left["id"]]
        county = await world.users["county"].ok("GET", RISK, params={"as_of": "2026-10-16", "limit": 2})
        assert [i["student_id"] for i in county["items"]] == [other["id"], absent["id"]]
        rest = await world.users["county"].ok(
            "GET", RISK, params={"as_of": "2026-10-16", "cursor": county["next_cursor"]}
        )
        assert [i["student_id"] for i in rest["items"]] == [left["id"], quiet["id"]]
        assert (await world.users["county"].get(RISK, params={"min_score": -1})).status_code == 422

    async def test_cases_and_household_count(self, world: World, db):
        hh = await world.admin.ok(
            "POST",
            "/api/v1/households",
            201,
            json={
                "head_name": "张三",
                "area_code": world.villages[0],
                "platform_id": f"P{world.code}01",
                "statuses": [
                    {"kind": "dibao", "since": "2024-01-01"},
                    {"kind": "monitored", "since": "2025-01-01"},
                ],
            },
        )
        s = await student(
            world,
            db,
            household_id=hh["id"],
            groups=["disabled"],
            disability={"category": "hearing", "grade": 3},
        )
        await world.users["county"].ok("POST", "/api/v1/dropout/cases", 201, json={"student_id": s["id"]})
        (item,) = (await world.users["county"].ok("GET", RISK, params={"student_id": s["id"]}))["items"]
        points = {f["factor"]: f["points"] for f in item["factors"]}
        assert points == {"active_case": 25, "household": 20, "disabled": 10}
        assert (item["score"], item["level"]) == (55, "high")
        detail = next(f["detail"] for f in item["factors"] if f["factor"] == "household")
        assert detail == "dibao, monitored"


class TestCalendar:
    async def test_put_and_read(self, world: World, db):
        county = world.users["county"]
        body = {
            "days": [
                {"date": "2026-10-01", "until": "2026-10-08", "kind": "holiday", "name": "国庆节"},
                {"date": "2026-10-10", "kind": "school_day", "name": "调休"},
            ]
        }
        got = await county.ok("PUT", f"{CALENDAR}/2026", json=body)
        assert len(got["days"]) == 9 and got["area_code"] == world.code
        # A school in the county reads the county's calendar as its own.
        read = await world.users["school"].ok("GET", f"{CALENDAR}/2026")
        assert read["days"] == got["days"] and read["school_days"] == got["school_days"]
        assert read["days"][0] == {
            "date": "2026-10-01",
            "kind": "holiday",
            "name": "国庆节",
            "area_code": world.code,
        }
        (e,) = [e for e in await events(db, "edu.dropout.calendar.updated") if e["area_code"] == world.code]
        assert (len(e["data"]["holidays"]), e["data"]["school_days"]) == (8, ["2026-10-10"])

    async def test_roles_scope_and_bad_input(self, world: World):
        body = {"days": [{"date": "2026-05-01", "kind": "holiday"}]}
        assert (await world.users["school"].request("PUT", f"{CALENDAR}/2026", json=body)).status_code == 403
        resp = await world.users["county"].request(
            "PUT", f"{CALENDAR}/2026", json={**body, "area_code": "610100"}
        )
        assert resp.status_code == 404
        resp = await world.users["county"].request("PUT", f"{CALENDAR}/2027", json=body)
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["days", 0, "date"]
        resp = await world.users["county"].request(
            "PUT", f"{CALENDAR}/2026", json={"days": [{"date": "2026-05-01", "kind": "rest"}]}
        )
        assert resp.status_code == 422


async def test_anonymous_401(api):
    for method, path in (
        ("POST", "/api/v1/attendance/absences"),
        ("GET", "/api/v1/dropout/cases"),
        ("GET", "/api/v1/dropout/risk"),
        ("POST", "/api/v1/dropout/verifications"),
        ("GET", "/api/v1/disability/placements"),
    ):
        assert (await api.client.request(method, path, json={})).status_code == 401, path
    own = direct(api)
    async with own.client:  # the service itself refuses too
        assert (await own.client.get("/api/v1/tasks")).status_code == 401
