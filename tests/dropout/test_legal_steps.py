"""Scattered absences open a case; after a failed persuasion, a notice to the guardian whose deadline is
a task; the steps that follow; a child's responsible persons on both lines — through the gateway."""

from datetime import timedelta

from services.contracts.calendar import today as local_today
from tests.dropout.helpers import CASES, absence, cases_of, events, post, student, tasks
from tests.helpers import World

TODAY = local_today()
DEFAULTS = "/api/v1/dropout/responsible-defaults"


def steps(case: dict) -> str:
    return f"{CASES}/{case['id']}/legal-steps"


async def failed_case(world: World, db) -> tuple[dict, dict]:
    """A case whose persuasion failed (escalated to the township)."""
    s = await student(world, db, village=world.villages[0])
    case = await world.users["county"].ok("POST", CASES, 201, json={"student_id": s["id"]})
    await world.users["school"].ok(
        "POST", f"{CASES}/{case['id']}/actions", 201, json={"kind": "persuasion", "outcome": "failed"}
    )
    return s, case


class TestScatteredAbsences:
    async def test_three_scattered_days_in_two_weeks_open_a_case(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        school = world.users["school"]
        got = await post(school, absence(s, "2026-11-02"))  # Monday
        assert got["cases_opened"] == 0
        # One unexplained day: the head teacher visits the family (家访), by the next school day.
        assert [(t["kind"], t["due_on"]) for t in await tasks(school, student_id=s["id"])] == [
            ("home_visit", "2026-11-03")
        ]
        assert (await post(school, absence(s, "2026-11-05")))["cases_opened"] == 0  # Thursday
        got = await post(school, absence(s, "2026-11-10"))  # Tuesday of the next week
        assert got["cases_opened"] == 1
        (case,) = await cases_of(world.users["county"], s)
        assert (case["source"], case["absent_since"], case["opened_on"]) == (
            "absences",
            "2026-11-02",
            "2026-11-10",
        )
        assert [t["kind"] for t in await tasks(school, student_id=s["id"])] == ["persuade"]


class TestLegalSteps:
    async def test_a_failed_persuasion_leads_to_a_notice_whose_deadline_is_a_task(self, world: World, db):
        s = await student(world, db, village=world.villages[0])
        county, township = world.users["county"], world.users["township"]
        case = await county.ok("POST", CASES, 201, json={"student_id": s["id"]})
        early = await township.post(steps(case), json={"kind": "notice", "guardian_name": "张大山"})
        assert early.status_code == 409  # no failed persuasion yet
        await world.users["school"].ok(
            "POST", f"{CASES}/{case['id']}/actions", 201, json={"kind": "persuasion", "outcome": "failed"}
        )
        deadline = (TODAY + timedelta(days=10)).isoformat()
        notice = await township.ok(
            "POST",
            steps(case),
            201,
            json={
                "kind": "notice",
                "guardian_name": "张大山",
                "deadline": deadline,
                "authority": "测试镇人民政府",
            },
        )
        assert (notice["kind"], notice["deadline"], notice["step_on"]) == (
            "notice",
            deadline,
            TODAY.isoformat(),
        )
        # The case went up to the township with the failed persuasion: the deadline is the township's task.
        (task,) = [t for t in await tasks(township, case_id=case["id"]) if t["kind"] == "legal_deadline"]
        assert task["due_on"] == deadline and s["name"] in task["title"]
        (recorded,) = await events(db, "edu.dropout.case.legal_step_recorded", case_id=case["id"])
        assert recorded["data"]["deadline"] == deadline
        # Printable: an HTML page with the child, the guardian and the deadline; or an XLSX sheet.
        page = await township.get(f"{steps(case)}/{notice['id']}/notice")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        deadline_text = f"{TODAY + timedelta(days=10):%Y年%m月%d日}"
        assert "限期复学通知书" in page.text and s["name"] in page.text and deadline_text in page.text
        sheet = await township.get(f"{steps(case)}/{notice['id']}/notice", params={"format": "xlsx"})
        assert sheet.status_code == 200 and sheet.content[:2] == b"PK"
        # The next step answers the deadline; a conclusion needs an outcome.
        await township.ok("POST", steps(case), 201, json={"kind": "township_referral", "note": "逾期未复学"})
        assert [t for t in await tasks(township, case_id=case["id"]) if t["kind"] == "legal_deadline"] == []
        bad = await township.post(steps(case), json={"kind": "concluded"})
        assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["outcome"]
        await township.ok("POST", steps(case), 201, json={"kind": "concluded", "outcome": "complied"})
        listed = await county.ok("GET", steps(case))
        assert [x["kind"] for x in listed["items"]] == ["notice", "township_referral", "concluded"]

    async def test_default_deadline_and_who_may(self, world: World, db):
        _, case = await failed_case(world, db)
        village = world.users["village"]
        assert (await village.post(steps(case), json={"kind": "notice"})).status_code == 403
        got = await world.users["county"].ok("POST", steps(case), 201, json={"kind": "notice"})
        assert got["deadline"] == (TODAY + timedelta(days=15)).isoformat()  # NOL_DROPOUT_NOTICE_DAYS
        # The village reads the case's steps; another township's users do not see the case at all.
        assert len((await village.ok("GET", steps(case)))["items"]) == 1
        sibling = await world.user("township", world.townships[1])  # the county's other township
        assert (await sibling.get(steps(case))).status_code == 404
        assert (await sibling.post(steps(case), json={"kind": "notice"})).status_code == 404

    async def test_bad_input_names_the_field(self, world: World, db):
        _, case = await failed_case(world, db)
        county = world.users["county"]
        for body, loc in (
            ({"kind": "summons"}, ["kind"]),
            ({"kind": "notice", "deadline": TODAY.isoformat()}, ["deadline"]),
            ({"kind": "notice", "step_on": (TODAY + timedelta(days=2)).isoformat()}, ["step_on"]),
            ({"kind": "notice", "deadline": "1999-01-01"}, ["deadline"]),
        ):
            resp = await county.post(steps(case), json=body)
            assert resp.status_code == 422, (body, resp.text)
            assert resp.json()["errors"][0]["loc"] == loc, resp.json()
        later = await county.post(steps(case), json={"kind": "court"})
        assert later.status_code == 409  # the steps begin with a notice


class TestResponsiblePersons:
    async def test_defaults_overrides_and_letters_show_on_the_case(self, world: World, db):
        s, case = await failed_case(world, db)
        county, school = world.users["county"], world.users["school"]
        primary, v0 = world.schools["primary"]["code"], world.villages[0]
        await county.ok("PUT", DEFAULTS, json={"unit_code": primary, "role": "principal", "name": "刘校长"})
        await county.ok("PUT", DEFAULTS, json={"unit_code": v0, "role": "village_head", "name": "张主任"})
        await county.ok(
            "PUT", DEFAULTS, json={"unit_code": world.townships[0], "role": "township_head", "name": "赵镇长"}
        )
        path = f"/api/v1/dropout/students/{s['id']}/responsible"
        got = await school.ok("PUT", path, json={"persons": [{"role": "head_teacher", "name": "王老师"}]})
        by_role = {p["role"]: p for p in got["persons"]}
        assert (by_role["head_teacher"]["name"], by_role["head_teacher"]["source"]) == ("王老师", "student")
        assert (by_role["principal"]["name"], by_role["principal"]["source"]) == ("刘校长", "unit")
        assert (by_role["village_head"]["name"], by_role["township_head"]["name"]) == ("张主任", "赵镇长")
        assert by_role["village_head"]["line"] == "government" and got["complete"] is False
        # A school names the education line only.
        resp = await school.request("PUT", path, json={"persons": [{"role": "village_head", "name": "某人"}]})
        assert resp.status_code == 403
        letter = {
            "role": "principal",
            "signer_name": "刘校长",
            "signed_on": "2026-09-01",
            "evidence_id": "ev_9",
        }
        await school.ok(
            "POST", f"/api/v1/dropout/students/{s['id']}/responsibility-letters", 201, json=letter
        )
        shown = await world.users["village"].ok("GET", f"{CASES}/{case['id']}")
        by_role = {p["role"]: p for p in shown["responsible"]}
        assert by_role["principal"]["letters"][0]["signed_on"] == "2026-09-01"
        assert by_role["head_teacher"]["name"] == "王老师"

    async def test_unit_outside_scope_and_bad_role_are_422(self, world: World, db):
        township = world.users["township"]
        resp = await township.request(
            "PUT", DEFAULTS, json={"unit_code": world.villages[2], "role": "village_head", "name": "某"}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "out_of_scope"
        resp = await township.request(
            "PUT", DEFAULTS, json={"unit_code": "2161999999", "role": "principal", "name": "某"}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "unknown_school"
        resp = await township.request(
            "PUT", DEFAULTS, json={"unit_code": world.villages[0], "role": "mayor", "name": "某"}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["role"]
