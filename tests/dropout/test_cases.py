"""Cases: open by hand, read in scope, update, actions, escalation (by hand, by failure, by timer)."""

from tests.dropout.helpers import CASES, CHECKS, absence, cases_of, events, post, student, tasks
from tests.helpers import World


async def open_case(world: World, s: dict, as_: str = "county", **body) -> dict:
    return await world.users[as_].ok("POST", CASES, 201, json={"student_id": s["id"], **body})


async def act(world: World, case: dict, as_: str, status: int = 201, **body) -> dict:
    return await world.users[as_].ok("POST", f"{CASES}/{case['id']}/actions", status, json=body)


class TestOpenCase:
    async def test_school_opens_one_case_per_student(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s, "school", reason_group="weariness", opened_on="2026-10-12")
        assert (case["status"], case["source"], case["reason_group"]) == ("open", "manual", "weariness")
        resp = await world.users["county"].post(CASES, json={"student_id": s["id"]})
        assert resp.status_code == 409 and resp.json()["existing_case_id"] == case["id"]
        assert len(await events(db, "edu.dropout.case.opened", student_id=s["id"])) == 1

    async def test_roles_that_do_not_open_403(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        for role in ("village", "township"):
            assert (await world.users[role].post(CASES, json={"student_id": s["id"]})).status_code == 403

    async def test_bad_input_422(self, world: World, db):
        s = await student(world, db)
        other = await student(world, db, "junior")
        school = world.users["school"]
        cases = [
            ({"student_id": s["id"], "reason_group": "laziness"}, ["reason_group"]),
            ({"student_id": s["id"], "opened_on": "2099-01-01"}, ["opened_on"]),
            ({"student_id": other["id"]}, ["student_id"]),  # another school's student
            ({"student_id": "not-a-uuid"}, ["student_id"]),
        ]
        for body, loc in cases:
            resp = await school.post(CASES, json=body)
            assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc, body


class TestReadCases:
    async def test_village_user_sees_only_its_villages_cases(self, world: World, db):
        mine = await student(world, db, village=world.villages[0])
        theirs = await student(world, db, village=world.villages[1])  # same township, another village
        mine_case, their_case = await open_case(world, mine), await open_case(world, theirs)
        village = world.users["village"]
        listed = (await village.ok("GET", CASES))["items"]
        assert [c["id"] for c in listed] == [mine_case["id"]]
        assert (await village.get(f"{CASES}/{their_case['id']}")).status_code == 404
        got = await village.ok("GET", f"{CASES}/{mine_case['id']}")
        assert got["student_name"] == mine["name"] and got["village_code"] == world.villages[0]
        # Nor may it act on it.
        resp = await village.post(f"{CASES}/{their_case['id']}/actions", json={"kind": "home_visit"})
        assert resp.status_code == 404

    async def test_other_area_404_and_filters(self, world: World, db):
        s = await student(world, db, "junior")
        case = await open_case(world, s, reason_group="poverty")
        assert (await world.users["township"].get(f"{CASES}/{case['id']}")).status_code == 404  # township 1
        county = world.users["county"]
        assert [
            c["id"] for c in (await county.ok("GET", CASES, params={"reason_group": "poverty"}))["items"]
        ] == [case["id"]]
        assert (await county.ok("GET", CASES, params={"status": "closed"}))["items"] == []
        assert (await county.get(CASES, params={"status": "lost"})).status_code == 422


class TestUpdateCase:
    async def test_reason_group_with_version(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s)
        url = f"{CASES}/{case['id']}"
        school = world.users["school"]
        assert (await school.patch(url, json={"reason_group": "illness"})).status_code == 422  # no version
        got = await school.ok("PATCH", url, json={"reason_group": "illness", "version": case["version"]})
        assert got["reason_group"] == "illness" and got["version"] == case["version"] + 1
        stale = await school.patch(url, json={"reason_group": "work", "version": case["version"]})
        assert stale.status_code == 409
        assert (
            await world.users["village"].patch(url, json={"reason_group": "work", "version": 2})
        ).status_code in (
            403,
            404,
        )
        (updated,) = await events(db, "edu.dropout.case.updated", case_id=case["id"])
        assert updated["data"]["reason_group"] == "illness"


class TestActions:
    async def test_village_records_visits_not_closes(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        case = await open_case(world, s)
        got = await act(world, case, "village", kind="home_visit", outcome="reached", note="家长同意送返")
        (visit,) = got["actions"]
        assert (visit["kind"], visit["actor_role"], visit["outcome"]) == ("home_visit", "village", "reached")
        assert await tasks(world.users["village"], case_id=case["id"]) == []  # its task is done
        for kind in ("close", "escalate"):
            resp = await world.users["village"].post(
                f"{CASES}/{case['id']}/actions", json={"kind": kind, "outcome": "returned"}
            )
            assert resp.status_code == 403
        (recorded,) = await events(db, "edu.dropout.case.action_recorded", case_id=case["id"])
        assert (
            recorded["data"]["kind"] == "home_visit" and recorded["data"]["village_code"] == world.villages[0]
        )

    async def test_bad_actions_422(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s, opened_on="2026-10-12")
        url = f"{CASES}/{case['id']}/actions"
        school = world.users["school"]
        for body, loc in (
            ({"kind": "close"}, ["outcome"]),
            ({"kind": "close", "outcome": "vanished"}, ["outcome"]),
            ({"kind": "escalate", "outcome": "failed"}, ["outcome"]),
            ({"kind": "contact", "outcome": "returned"}, ["outcome"]),
            ({"kind": "contact", "occurred_at": "2099-01-01T00:00:00Z"}, ["occurred_at"]),
            ({"kind": "contact", "occurred_at": "2026-10-01T00:00:00Z"}, ["occurred_at"]),
            ({"kind": "phone_call"}, ["kind"]),
        ):
            resp = await school.post(url, json=body)
            assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == loc, body

    async def test_escalation_to_township_then_county(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s)
        got = await act(world, case, "school", kind="escalate", note="家长拒绝")
        assert (got["status"], got["level"]) == ("escalated", "township")
        assert [t["kind"] for t in await tasks(world.users["township"], case_id=case["id"])] == ["persuade"]
        got = await act(world, case, "township", kind="escalate")
        assert got["level"] == "county"
        assert "persuade" in [t["kind"] for t in await tasks(world.users["county"], case_id=case["id"])]
        await act(world, case, "county", 409, kind="escalate")
        escalated = await events(db, "edu.dropout.case.escalated", case_id=case["id"])
        assert [(e["data"]["from_level"], e["data"]["level"], e["data"]["trigger"]) for e in escalated] == [
            ("school", "township", "action"),
            ("township", "county", "action"),
        ]

    async def test_failed_persuasion_escalates(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s)
        got = await act(world, case, "school", kind="persuasion", outcome="failed", note="学生厌学，拒绝返校")
        assert got["level"] == "township"
        assert [(a["kind"], a["actor_role"]) for a in got["actions"]] == [
            ("persuasion", "school"),
            ("escalate", "system"),
        ]
        (e,) = await events(db, "edu.dropout.case.escalated", case_id=case["id"])
        assert e["data"]["trigger"] == "persuasion_failed"

    async def test_close_ends_the_case_and_its_tasks(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        case = await open_case(world, s)
        got = await act(world, case, "township", kind="close", outcome="transferred", note="转入外县")
        assert (got["status"], got["outcome"]) == ("closed", "transferred")
        for role in ("school", "village", "township", "county"):
            assert await tasks(world.users[role], case_id=case["id"]) == [], role
        await act(world, case, "school", 409, kind="contact")
        (closed,) = await events(db, "edu.dropout.case.closed", case_id=case["id"])
        assert closed["data"]["outcome"] == "transferred" and closed["data"]["closed_on"]


class TestEscalationTimer:
    async def test_days_without_return_escalate(self, world: World, db):
        s = await student(world, db)
        case = await open_case(world, s, opened_on="2026-10-05")
        county = world.users["county"]

        async def run(today: str) -> dict:
            return await county.ok("POST", CHECKS, json={"today": today})

        assert (await run("2026-10-11"))["escalated"] == 0  # six days
        assert (await run("2026-10-12"))["escalated"] == 1  # seven
        got = await county.ok("GET", f"{CASES}/{case['id']}")
        assert (got["level"], got["level_since"], got["actions"][-1]["actor"]) == (
            "township",
            "2026-10-12",
            "system",
        )
        assert (await run("2026-10-18"))["escalated"] == 0
        assert (await run("2026-10-19"))["escalated"] == 1
        assert (await run("2026-12-31"))["escalated"] == 0  # the county is the top
        got = await county.ok("GET", f"{CASES}/{case['id']}")
        assert (got["status"], got["level"]) == ("escalated", "county")
        triggers = [
            e["data"]["trigger"] for e in await events(db, "edu.dropout.case.escalated", case_id=case["id"])
        ]
        assert triggers == ["timer", "timer"]

    async def test_a_returned_case_does_not_escalate(self, world: World, db):
        s = await student(world, db)
        await post(world.users["school"], [absence(s, d) for d in ("2026-10-05", "2026-10-06", "2026-10-07")])
        (case,) = await cases_of(world.users["county"], s)
        await act(
            world, case, "school", kind="close", outcome="deceased", occurred_at="2026-10-09T10:00:00+08:00"
        )
        assert (await world.users["county"].ok("POST", CHECKS, json={"today": "2026-11-30"}))[
            "escalated"
        ] == 0

    async def test_only_county_and_admin_run_checks(self, world: World):
        for role in ("school", "township", "village"):
            assert (await world.users[role].post(CHECKS, json={})).status_code == 403
        assert (await world.users["county"].post(CHECKS, json={"today": "soon"})).status_code == 422
