"""Start-of-semester check (开学核查): the list to confirm, mixed results, cases for the unexplained."""

from tests.dropout.helpers import CASES, events, projected, student, tasks
from tests.helpers import World

URL = "/api/v1/dropout/verifications"


async def check(world: World, school: str = "primary", as_: str = "school", status: int = 201) -> dict:
    code = world.schools[school]["code"]
    return await world.users[as_].ok(
        "POST", URL, status, json={"school_code": code, "semester": "2026-autumn"}
    )


class TestCreateVerification:
    async def test_lists_enrolled_compulsory_age_students(self, world: World, db):
        a, b = await student(world, db), await student(world, db, grade=5)
        away = await student(world, db)
        await world.admin.ok(
            "POST",
            f"/api/v1/students/{away['id']}/enrollment-changes",
            201,
            json={"kind": "suspend", "effective_date": "2026-09-01", "reason": "病休"},
        )
        await projected(db, away["id"], version=2)
        v = await check(world)
        assert {i["student_id"] for i in v["items"]} == {a["id"], b["id"]}
        assert (v["status"], v["summary"]["expected"], v["summary"]["pending"]) == ("open", 2, 2)
        assert all(i["arrived"] is None for i in v["items"])
        (todo,) = await tasks(world.users["school"], kind="complete_verification")
        assert todo["verification_id"] == v["id"]
        (created,) = await events(db, "edu.dropout.verification.created", verification_id=v["id"])
        assert (created["data"]["expected"], created["data"]["year"]) == (2, 2026)

    async def test_senior_students_past_compulsory_age_are_not_listed(self, world: World, db):
        world.schools["senior"] = await world.school(
            "34", world.townships[0], ["junior", "senior"], "完全中学"
        )
        junior = await student(world, db, "senior", stage="junior", grade=2)
        await student(world, db, "senior", stage="senior", grade=3)
        v = await check(world, "senior", as_="county")
        assert [i["student_id"] for i in v["items"]] == [junior["id"]]

    async def test_one_check_per_school_and_semester(self, world: World, db):
        await student(world, db)
        await check(world)
        await check(world, as_="county", status=409)

    async def test_roles_and_bad_input(self, world: World, db):
        await student(world, db)
        await student(world, db, "junior")
        body = {"school_code": world.schools["primary"]["code"], "semester": "2026-autumn"}
        for role in ("village", "township"):
            assert (await world.users[role].post(URL, json=body)).status_code == 403, role
        resp = await world.users["school"].post(URL, json={**body, "semester": "2026-summer"})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["semester"]
        resp = await world.users["school"].post(
            URL, json={**body, "school_code": world.schools["junior"]["code"]}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["school_code"]


class TestResults:
    async def test_mixed_results(self, world: World, db):
        came, ill, gone = [await student(world, db, village=world.villages[0]) for _ in range(3)]
        v = await check(world)
        url = f"{URL}/{v['id']}/results"
        school = world.users["school"]
        got = await school.ok(
            "POST",
            url,
            json=[
                {"student_id": came["id"], "arrived": True},
                {"student_id": ill["id"], "arrived": False, "reason": "illness", "note": "住院"},
            ],
        )
        assert got["status"] == "open"
        assert got["summary"] == {
            "expected": 3,
            "arrived": 1,
            "not_arrived": 1,
            "pending": 1,
            "by_reason": {"illness": 1},
        }
        got = await school.ok(
            "POST", url, json=[{"student_id": gone["id"], "arrived": False, "reason": "unexplained"}]
        )
        assert got["status"] == "completed"
        assert got["summary"]["by_reason"] == {"illness": 1, "unexplained": 1}
        item = next(i for i in got["items"] if i["student_id"] == gone["id"])
        case = await school.ok("GET", f"{CASES}/{item['case_id']}")
        assert (case["source"], case["status"], case["student_id"]) == ("verification", "open", gone["id"])
        assert [c["student_id"] for c in (await school.ok("GET", CASES))["items"]] == [
            gone["id"]
        ]  # illness: no case
        assert await tasks(school, kind="complete_verification") == []
        results = await events(db, "edu.dropout.verification.result_recorded", verification_id=v["id"])
        assert sorted((e["data"]["arrived"], e["data"]["reason"] or "") for e in results) == [
            (False, "illness"),
            (False, "unexplained"),
            (True, ""),
        ]
        assert all(e["data"]["semester"] == "2026-autumn" and e["data"]["compulsory"] for e in results)
        # The same results again change nothing; the county reads it all.
        again = await school.ok("POST", url, json=[{"student_id": came["id"], "arrived": True}])
        assert again["version"] == got["version"]
        assert len(await events(db, "edu.dropout.verification.result_recorded", verification_id=v["id"])) == 3
        read = await world.users["county"].ok("GET", f"{URL}/{v['id']}")
        assert read["summary"]["not_arrived"] == 2

    async def test_reason_needed_and_bad_rows_422(self, world: World, db):
        s = await student(world, db)
        other = await student(world, db, "junior")
        v = await check(world)
        url = f"{URL}/{v['id']}/results"
        for rows, loc in (
            ([{"student_id": s["id"], "arrived": False}], [0, "reason"]),
            ([{"student_id": s["id"], "arrived": True, "reason": "illness"}], [0, "reason"]),
            (
                [{"student_id": s["id"], "arrived": True}, {"student_id": other["id"], "arrived": True}],
                [1, "student_id"],
            ),
            ([{"student_id": s["id"], "arrived": False, "reason": "bored"}], [0, "reason"]),
            ([], []),
        ):
            resp = await world.users["school"].post(url, json=rows)
            assert resp.status_code == 422, rows
            assert resp.json()["errors"][0]["loc"][: len(loc)] == loc, rows

    async def test_scope(self, world: World, db):
        await student(world, db, "junior")
        v = await check(world, "junior", as_="county")
        assert (await world.users["school"].get(f"{URL}/{v['id']}")).status_code == 404
        assert (await world.users["township"].get(f"{URL}/{v['id']}")).status_code == 404  # township 0
        assert (await world.users["village"].get(f"{URL}/{v['id']}")).status_code == 404
        listed = await world.users["county"].ok("GET", URL, params={"semester": "2026-autumn"})
        assert [x["id"] for x in listed["items"]] == [v["id"]]
