"""学前到大学无缝对接: a graduate opens its next stage in any county; both counties keep the history.

Before: `graduated` was terminal (no `enroll` change), the history was readable only where the student
is now, there was no progression list, school types 41/42 were refused, and a special school's pupil
was no compulsory-stage child.
"""

import json
import secrets

import pytest

from services.contracts.vocabulary import compulsory_stage
from tests import conftest
from tests.helpers import Api, World, eventually
from tests.subsidy.helpers import CURRENT, make_batch, make_policy, projected

GRADUATED, ENROLLED = "2026-07-01", "2026-09-01"


@pytest.fixture
async def other(api: Api, stack) -> World:
    """County B: the receiving county, with a senior high school (`world` is county A, the sending one)."""
    b = await World.create(api, code=f"61{8000 - next(conftest._counties):04d}", stack=stack)
    b.schools["senior"] = await b.school("34", b.townships[0], ["senior"], "高级中学")
    return b


async def poor_household(world: World) -> dict:
    body = {
        "head_name": "王建国",
        "area_code": world.villages[0],
        "platform_id": f"P{world.code}{secrets.token_hex(4)}",
        "statuses": [{"kind": "registered_poor", "since": "2016-01-01"}],
    }
    return await world.users["county"].ok("POST", "/api/v1/households", 201, json=body)


async def junior_graduate(world: World, household: dict) -> dict:
    """A grade-9 pupil of A's nine-year school, graduated on 1 July."""
    county = world.users["county"]
    body = world.student_body("junior", stage="junior", grade=9, household_id=household["id"])
    kid = await county.ok("POST", "/api/v1/students", 201, json=body)
    await change(county, kid, {"kind": "graduate", "effective_date": GRADUATED})
    return kid


async def change(api: Api, kid: dict, body: dict, status: int = 201) -> dict:
    return await api.ok("POST", f"/api/v1/students/{kid['id']}/enrollment-changes", status, json=body)


def enroll_at(school: dict, stage: str = "senior", grade: int = 10, **details) -> dict:
    return {"kind": "enroll", "effective_date": ENROLLED,
            "details": {"school_code": school["code"], "stage": stage, "grade": grade, **details}}


async def progression(api: Api, **params) -> dict[str, dict]:
    page = await api.ok("GET", "/api/v1/progression", params={"year": 2026, "limit": 500, **params})
    return {p["student_id"]: p for p in page["items"]}


async def kinds(api: Api, kid: dict) -> list[str]:
    return [h["kind"] for h in (await api.ok("GET", f"/api/v1/students/{kid['id']}/history"))["items"]]


class TestProgression:
    async def test_junior_graduate_goes_on_in_another_county_and_is_paid_there(
        self, world: World, other: World, db
    ):
        a, b = world.users["county"], other.users["county"]
        hh = await poor_household(world)
        goes, stays = await junior_graduate(world, hh), await junior_graduate(world, hh)
        senior = other.schools["senior"]
        done = await change(a, goes, enroll_at(senior, boarding=True))
        assert (done["kind"], done["from_status"], done["to_status"]) == ("enroll", "graduated", "enrolled")
        assert (done["to_school_code"], done["from_stage"], done["stage"]) == (senior["code"], "junior", "senior")
        assert done["to_area_code"] == senior["area_code"] and done["from_area_code"].startswith(world.code)
        # The receiving county sees the child now, at its senior school; the sending county no longer does.
        moved = await b.ok("GET", f"/api/v1/students/{goes['id']}")
        assert (moved["enrollment"]["school_code"], moved["enrollment"]["stage"]) == (senior["code"], "senior")
        assert moved["enrollment"]["boarding"] is True and moved["categories"] == ["registered_poor"]
        assert (await a.get(f"/api/v1/students/{goes['id']}")).status_code == 404
        # Both keep the history: B all of it, A its part (registration, graduation, the enroll from it).
        assert await kinds(b, goes) == ["enroll", "graduate", "enroll"]
        assert await kinds(a, goes) == ["enroll", "graduate", "enroll"]
        assert await kinds(world.users["village"], goes) == ["enroll", "graduate", "enroll"]
        assert (await other.users["village"].get(f"/api/v1/students/{goes['id']}/history")).status_code == 404
        # The event: an enrollment_changed with change.kind enroll, at the new school and area.
        rows = await db.fetch("SELECT payload FROM registry.outbox WHERE subject = $1 AND type = $2 "
                              "ORDER BY position", goes["id"], "edu.registry.student.enrollment_changed")
        last = json.loads(rows[-1]["payload"])
        assert last["data"]["change"]["kind"] == "enroll" and last["area_code"] == senior["area_code"]
        assert (last["data"]["change"]["from_stage"], last["data"]["compulsory"]) == ("junior", False)

        # Progression: A lists both (continued to B's senior school, not continued); B lists neither.
        listed = await progression(a, area_code=world.code)
        assert listed[goes["id"]]["status"] == "continued"
        assert (listed[goes["id"]]["to_stage"], listed[goes["id"]]["to_school_code"]) == ("senior", senior["code"])
        assert listed[stays["id"]]["status"] == "not_continued" and listed[stays["id"]]["to_school_code"] is None
        assert listed[stays["id"]]["household_id"] == hh["id"]
        assert listed[stays["id"]]["village_code"] == world.villages[0]
        assert set(await progression(a, poor_only="true")) == {stays["id"]}  # the 两后生
        assert set(await progression(a, status="continued")) == {goes["id"]}
        assert set(await progression(world.users["village"])) == {goes["id"], stays["id"]}
        assert not set(await progression(b)) & {goes["id"], stays["id"]}
        assert not await progression(a, year=2025)

        # B's senior grant (B's own policy) pays the child at its new school.
        policy = await make_policy(b, kind="grant", stages=["senior"], categories=["registered_poor"],
                                   boarding_only=False, amount_fen=100000)
        await projected(db, moved, schools=[senior["code"]])
        batch = await make_batch(b, other, policy, semester=CURRENT, school="senior")
        assert goes["id"] in {line["student_id"] for line in batch["lines"]}

    async def test_enroll_is_checked(self, world: World, other: World):
        a = world.users["county"]
        kid = await junior_graduate(world, await poor_household(world))
        senior = other.schools["senior"]
        missing = await change(a, kid, {"kind": "enroll", "effective_date": ENROLLED,
                                        "details": {"school_code": senior["code"], "grade": 10}}, 422)
        assert missing["errors"][0]["loc"] == ["details", "stage"]
        wrong = await change(a, kid, enroll_at(senior, stage="vocational"), 422)
        assert wrong["errors"][0]["loc"] == ["details", "stage"]
        early = await change(a, kid, enroll_at(senior) | {"effective_date": "2026-06-01"}, 422)
        assert early["errors"][0]["loc"] == ["effective_date"]
        still = await world.student("junior", stage="junior", grade=8, as_=a)
        await change(a, still, enroll_at(senior), 409)  # a pupil at school is transferred, not enrolled

    async def test_a_dropout_enrolls_again_at_a_next_stage(self, world: World):
        a = world.users["county"]
        kid = await world.student("junior", stage="junior", grade=9, as_=a)
        await change(a, kid, {"kind": "drop_out", "effective_date": GRADUATED})
        vocational = await world.school("36", world.townships[0], ["vocational"], "职业中学")
        done = await change(a, kid, enroll_at(vocational, stage="vocational", grade=1))
        assert (done["from_status"], done["stage"]) == ("dropped_out", "vocational")


class TestSchoolTypes:
    @pytest.mark.parametrize(("kind", "stage"), [
        ("41", "higher"), ("42", "higher"), ("22", "primary"), ("32", "junior"), ("33", "junior"),
        ("35", "senior"), ("37", "junior"), ("93", "vocational"),
    ])
    async def test_accepted_with_their_stages(self, world: World, kind: str, stage: str):
        school = await world.school(kind, world.townships[0], [stage], "学校")
        assert school["code"].startswith(kind)

    async def test_higher_education_student(self, world: World):
        world.schools["university"] = await world.school("41", world.townships[0], ["higher"], "学院")
        body = world.student_body("university", stage="senior", grade=3)  # born as a senior of grade 3
        body["enrollment"] |= {"stage": "higher", "grade": 1}
        kid = await world.users["county"].ok("POST", "/api/v1/students", 201, json=body)
        assert (kid["enrollment"]["stage"], kid["enrollment"]["grade"]) == ("higher", 1)

    async def test_unknown_type_refused(self, world: World):
        resp = await world.admin.post("/api/v1/schools", json={
            "code": "9961000001", "name": "未知", "area_code": world.townships[0], "stages": ["primary"]})
        assert resp.status_code == 422 and "code" in resp.text


class TestSpecialEducation:
    def test_rule(self):
        assert compulsory_stage("special", 4) and compulsory_stage("special", 9)
        assert not compulsory_stage("special", 10) and not compulsory_stage("special", None)
        assert compulsory_stage("primary", 3) and compulsory_stage("junior") and not compulsory_stage("senior", 1)

    async def test_grade_four_pupil_of_a_special_school_is_compulsory(self, world: World, db):
        world.schools["special"] = await world.school("51", world.townships[0], ["special"], "特殊教育学校")
        body = world.student_body("special", stage="primary", grade=4, groups=["disabled"])
        body["enrollment"]["stage"] = "special"
        kid = await world.users["county"].ok("POST", "/api/v1/students", 201, json=body)

        async def created():
            row = await db.fetchrow("SELECT payload FROM registry.outbox WHERE subject = $1 AND type = $2",
                                    kid["id"], "edu.registry.student.created")
            return json.loads(row["payload"]) if row else None

        event = await eventually(created)
        assert (event["data"]["stage"], event["data"]["grade"], event["data"]["compulsory"]) == (
            "special", 4, True)
