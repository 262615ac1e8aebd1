"""The rules: one unexplained day → a home visit; three unexplained days within ten school days → a case."""

from tests.dropout.helpers import CASES, absence, cases_of, events, post, projected, student, tasks
from tests.helpers import World, eventually


class TestOneUnexplainedDay:
    async def test_sends_the_head_teacher_on_a_home_visit(self, world: World, db):
        s = await student(world, db)
        got = await post(world.users["school"], absence(s, "2026-10-16"))  # a Friday
        assert got["cases_opened"] == 0
        todo = await tasks(world.users["school"], student_id=s["id"])
        assert [(t["kind"], t["due_on"], t["student_name"]) for t in todo] == [
            ("home_visit", "2026-10-19", s["name"])  # the next school day, after the weekend
        ]
        assert await cases_of(world.users["county"], s) == []

    async def test_explained_later_closes_the_reminder(self, world: World, db):
        s = await student(world, db)
        school = world.users["school"]
        await post(school, absence(s, "2026-10-12"))
        await post(school, absence(s, "2026-10-12", "sick"))
        assert await tasks(school, student_id=s["id"]) == []
        assert [t["status"] for t in await tasks(school, student_id=s["id"], status="all")] == ["done"]


class TestThreeConsecutiveDays:
    async def test_weekend_between_absences_still_consecutive(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        school = world.users["school"]
        await post(school, [absence(s, "2026-10-15"), absence(s, "2026-10-16")])
        got = await post(school, absence(s, "2026-10-19"))  # Thu, Fri, (weekend), Mon
        assert got["cases_opened"] == 1 and got["items"][0]["case_id"]
        (case,) = await cases_of(world.users["county"], s)
        assert (case["status"], case["level"], case["source"]) == ("open", "school", "absences")
        assert (case["absent_since"], case["opened_on"]) == ("2026-10-15", "2026-10-19")
        assert case["id"] == got["items"][0]["case_id"]
        # Township and county are told, the school persuades, the village visits.
        for role, kind in (
            ("township", "review_case"),
            ("county", "review_case"),
            ("school", "persuade"),
            ("village", "home_visit"),
        ):
            assert [t["kind"] for t in await tasks(world.users[role], case_id=case["id"])] == [kind], role
        assert [t["kind"] for t in await tasks(school, student_id=s["id"])] == ["persuade"]  # reminder done
        (opened,) = await events(db, "edu.dropout.case.opened", student_id=s["id"])
        assert opened["data"]["case_id"] == case["id"] and opened["data"]["opened_on"] == "2026-10-19"
        assert (
            opened["area_code"] == world.townships[0] and opened["data"]["village_code"] == world.villages[0]
        )

    async def test_holiday_between_absences_still_consecutive(self, world: World, db):
        await world.users["county"].ok(
            "PUT",
            "/api/v1/dropout/calendar/2026",
            json={"days": [{"date": "2026-10-21", "kind": "holiday", "name": "县运动会"}]},
        )
        s, far = await student(world, db), await student(world, db)
        body = [absence(s, d) for d in ("2026-10-20", "2026-10-22", "2026-10-23")]
        # 10 school days from Mon 2 Nov to Fri 13 Nov, the holiday on 21 Oct not among them: 11 with 16 Nov.
        body += [absence(far, d) for d in ("2026-11-02", "2026-11-09", "2026-11-16")]
        got = await post(world.users["school"], body)
        assert got["cases_opened"] == 1
        assert [c["absent_since"] for c in await cases_of(world.users["county"], s)] == ["2026-10-20"]
        assert await cases_of(world.users["county"], far) == []

    async def test_make_up_day_on_a_weekend_counts(self, world: World, db):
        await world.users["county"].ok(
            "PUT",
            "/api/v1/dropout/calendar/2026",
            json={"days": [{"date": "2026-10-10", "kind": "school_day"}]},
        )
        s = await student(world, db)
        got = await post(
            world.users["school"], [absence(s, d) for d in ("2026-10-09", "2026-10-10", "2026-10-12")]
        )
        assert got["cases_opened"] == 1  # Saturday 10 was a school day: an absence on it counts

    async def test_a_sick_day_does_not_count(self, world: World, db):
        s = await student(world, db)
        body = [
            absence(s, "2026-10-12"),
            absence(s, "2026-10-13", "sick"),
            absence(s, "2026-10-14", "leave"),
            absence(s, "2026-10-15"),
        ]
        assert (await post(world.users["school"], body))["cases_opened"] == 0

    async def test_out_of_order_posts(self, world: World, db):
        s = await student(world, db)
        school = world.users["school"]
        await post(school, [absence(s, "2026-10-14"), absence(s, "2026-10-12")])
        assert (await post(school, absence(s, "2026-10-13")))["cases_opened"] == 1
        assert [c["absent_since"] for c in await cases_of(school, s)] == ["2026-10-12"]

    async def test_duplicate_posts_open_one_case(self, world: World, db):
        s = await student(world, db)
        body = [absence(s, d) for d in ("2026-10-05", "2026-10-06", "2026-10-07")]
        first = await post(world.users["school"], body)
        again = await post(world.users["county"], body)
        assert (first["cases_opened"], again["cases_opened"], again["unchanged"]) == (1, 0, 3)
        more = await post(world.users["school"], absence(s, "2026-10-08"))
        assert more["cases_opened"] == 0
        assert len(await cases_of(world.users["county"], s)) == 1
        assert len(await events(db, "edu.dropout.case.opened", student_id=s["id"])) == 1

    async def test_a_return_starts_a_fresh_count(self, world: World, db):
        s = await student(world, db)
        school = world.users["school"]
        await post(school, [absence(s, d) for d in ("2026-10-12", "2026-10-13", "2026-10-14")])
        (case,) = await cases_of(school, s)
        closed = await school.ok(
            "POST",
            f"{CASES}/{case['id']}/actions",
            201,
            json={"kind": "close", "outcome": "returned", "occurred_at": "2026-10-15T08:00:00+08:00"},
        )
        # Five school days after the 15th passed with no absence reported: confirmed at once.
        assert (closed["status"], closed["confirmed_on"]) == ("closed", "2026-10-22")
        # The day of return turns out missed too: 12-16 would be five days, but the count starts afresh.
        got = await post(school, [absence(s, "2026-10-15"), absence(s, "2026-10-16")])
        assert got["cases_opened"] == 0
        got = await post(school, [absence(s, "2026-10-19"), absence(s, "2026-10-20")])
        assert got["cases_opened"] == 1
        second = [c for c in await cases_of(school, s) if c["id"] != case["id"]]
        assert [(c["absent_since"], c["opened_on"]) for c in second] == [("2026-10-16", "2026-10-20")]


class TestEnrollmentDropout:
    async def test_compulsory_age_dropout_opens_a_case(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        await world.admin.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={"kind": "drop_out", "effective_date": "2026-11-02", "reason": "外出务工"},
        )

        async def opened():
            return await cases_of(world.users["village"], s)

        (case,) = await eventually(opened)
        assert (case["source"], case["opened_on"], case["status"]) == ("enrollment", "2026-11-02", "open")
        assert case["note"] == "外出务工"

    async def test_senior_student_dropout_is_no_case(self, world: World, db):
        world.schools["senior"] = await world.school(
            "34", world.townships[0], ["junior", "senior"], "高级中学"
        )
        s = await student(world, db, "senior", stage="senior", grade=3)
        await world.admin.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={"kind": "drop_out", "effective_date": "2026-11-02"},
        )
        row = await projected(db, s["id"], version=2)
        assert row["status"] == "dropped_out"
        assert await cases_of(world.users["county"], s) == []
