"""Batches: generated from the students enrolled now; every other student listed with the reason."""

import asyncio

import pytest

from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    PAST,
    act,
    add_student,
    events,
    make_batch,
    make_policy,
    projected,
    roster,
    world_projected,
)

URL = "/api/v1/subsidy/batches"


class TestGenerateBatch:
    async def test_lines_and_excluded_with_reasons(self, world: World, db):
        r = await roster(world, db)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy)
        assert batch["status"] == "draft" and batch["kind"] == "regular"
        assert [line["student_id"] for line in batch["lines"]] == [r.eligible["id"]]
        assert batch["lines"][0]["amount_fen"] == 62500 and batch["total_fen"] == 62500
        reasons = {e["student_id"]: e["reason"] for e in batch["excluded"]}
        assert reasons == {
            r.day_pupil["id"]: "boarding",
            r.no_category["id"]: "category",
            r.suspended["id"]: "status",
        }
        texts = {e["reason"]: e["reason_text"] for e in batch["excluded"]}
        assert texts["category"] == "不属于该政策资助对象类别"
        assert batch["excluded_count"] == 3 and batch["line_count"] == 1
        assert batch["history"][0]["action"] == "generated"
        assert batch["history"][0]["actor"] == world.users["school"].username
        generated = await events(db, "edu.subsidy.batch.generated", batch["id"])
        assert (
            generated[0]["data"]["total_fen"] == 62500 and generated[0]["school_code"] == batch["school_code"]
        )

    async def test_stage_reason_and_every_student_accounted_for(self, world: World, db):
        junior = await add_student(world, "junior", stage="junior", grade=1)
        pupil = await add_student(world, "junior", stage="primary", grade=5)
        await world_projected(db, world, junior, pupil)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["county"], world, policy, school="junior")
        assert [line["student_id"] for line in batch["lines"]] == [pupil["id"]]
        assert batch["excluded"] == [
            {
                "student_id": junior["id"],
                "name": junior["name"],
                "reason": "stage",
                "reason_text": "学段不符合该政策",
                "where": None,
            }
        ]

    async def test_empty_categories_mean_everyone_of_the_stage(self, world: World, db):
        a = await add_student(world, groups=[], boarding=False)
        b = await add_student(world, groups=["orphan"], boarding=True)
        await world_projected(db, world, a, b)
        policy = await make_policy(world.users["county"], categories=[], boarding_only=False, kind="waiver")
        batch = await make_batch(world.users["county"], world, policy)
        assert {line["student_id"] for line in batch["lines"]} == {a["id"], b["id"]}

    async def test_non_boarders_only(self, world: World, db):
        r = await roster(world, db)
        policy = await make_policy(
            world.users["county"], boarding_only=False, non_boarders_only=True, amount_fen=31250
        )
        batch = await make_batch(world.users["county"], world, policy)
        assert [line["student_id"] for line in batch["lines"]] == [r.day_pupil["id"]]
        assert {e["student_id"]: e["reason"] for e in batch["excluded"]}[r.eligible["id"]] == "boarding"

    async def test_money_sums_exact_to_the_fen(self, world: World, db):
        students = [await add_student(world) for _ in range(7)]
        await world_projected(db, world, *students)
        policy = await make_policy(world.users["county"], amount_fen=33333)
        batch = await make_batch(world.users["county"], world, policy)
        assert batch["line_count"] == 7 and batch["total_fen"] == 7 * 33333 == 233331
        assert sum(line["amount_fen"] for line in batch["lines"]) == batch["total_fen"]
        total = await db.fetchval(
            "SELECT sum(amount_fen) FROM subsidy.disbursement WHERE batch_id = $1::uuid", batch["id"]
        )
        assert total == 233331

    async def test_second_request_409(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        await make_batch(world.users["school"], world, policy)
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        resp = await world.users["county"].post(URL, json=body)
        assert resp.status_code == 409

    async def test_twenty_concurrent_identical_requests_make_one_batch(self, world: World, db):
        students = [await add_student(world) for _ in range(3)]
        await world_projected(db, world, *students)
        policy = await make_policy(world.users["county"])
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        school = world.users["school"]
        responses = await asyncio.gather(*(school.post(URL, json=body) for _ in range(20)))
        codes = sorted(r.status_code for r in responses)
        assert codes == [201] + [409] * 19, codes
        n = await db.fetchval(
            "SELECT count(*) FROM subsidy.batch WHERE policy_code = $1 AND school_code = $2",
            policy["code"],
            body["school_code"],
        )
        lines = await db.fetchval(
            "SELECT count(*) FROM subsidy.disbursement WHERE policy_code = $1", policy["code"]
        )
        assert n == 1 and lines == 3

    async def test_anonymous_401(self, world: World):
        resp = await world.admin.client.post(URL, json={})
        assert resp.status_code == 401

    async def test_village_user_403(self, world: World, db):
        policy = await make_policy(world.users["county"])
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        assert (await world.users["village"].post(URL, json=body)).status_code == 403
        assert (await world.users["village"].get(URL)).status_code == 403

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"semester": "2026-summer"}, "semester"),
            ({"semester": "2099-spring"}, "semester"),
            ({"semester": "2010-spring"}, "semester"),  # the policy does not apply that year
            ({"policy_code": "NOPE-404"}, "policy_code"),
            ({"school_code": "123"}, "school_code"),
            ({"kind": "bonus"}, "kind"),
        ],
    )
    async def test_bad_input_422(self, world: World, db, change: dict, field: str):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        resp = await world.users["county"].post(URL, json=body | change)
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["loc"] == [field]

    async def test_school_user_only_its_own_school_422(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        body = {
            "school_code": world.schools["junior"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        resp = await world.users["school"].post(URL, json=body)
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["school_code"]

    async def test_policy_without_the_schools_stages_422(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"], stages=["senior"])
        body = {
            "school_code": world.schools["primary"]["code"],
            "semester": PAST,
            "policy_code": policy["code"],
        }
        resp = await world.users["county"].post(URL, json=body)
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["policy_code"]

    async def test_other_township_404(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["county"], world, policy, school="junior")  # township 1
        assert (await world.users["township"].get(f"{URL}/{batch['id']}")).status_code == 404
        assert (await world.users["school"].get(f"{URL}/{batch['id']}")).status_code == 404
        page = await world.users["township"].ok("GET", URL, params={"policy_code": policy["code"]})
        assert page["items"] == []
        page = await world.users["county"].ok("GET", URL, params={"policy_code": policy["code"]})
        assert [b["id"] for b in page["items"]] == [batch["id"]] and "lines" not in page["items"][0]


class TestRegenerate:
    async def test_draft_regenerates_with_new_students(self, world: World, db):
        first = await add_student(world)
        await world_projected(db, world, first)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy, semester=CURRENT)
        second = await add_student(world)
        await projected(db, second)
        again = await act(world.users["school"], batch, "regenerate")
        assert {line["student_id"] for line in again["lines"]} == {first["id"], second["id"]}
        assert again["total_fen"] == 125000 and again["version"] == 2
        assert [h["action"] for h in again["history"]] == ["generated", "regenerated"]
        assert await events(db, "edu.subsidy.batch.regenerated", batch["id"])

    async def test_submitted_batch_cannot_regenerate_409(self, world: World, db):
        await world_projected(db, world)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy)
        await act(world.users["school"], batch, "submit")
        await act(world.users["school"], batch, "regenerate", 409)

    async def test_cancel_frees_the_students(self, world: World, db):
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(world.users["county"])
        batch = await make_batch(world.users["school"], world, policy)
        await act(world.users["school"], batch, "cancel", reason="政策代码选错")
        await act(world.users["village"], batch, "cancel", 403, reason="x")
        again = await make_batch(world.users["school"], world, policy)
        assert [line["student_id"] for line in again["lines"]] == [s["id"]]
        cancelled = [
            e
            for e in await events(db, "edu.subsidy.disbursement.cancelled")
            if e["data"]["batch_id"] == batch["id"]
        ]
        assert [(e["data"]["status"], e["data"]["reason"]) for e in cancelled] == [
            ("cancelled", "政策代码选错")
        ]
        assert (await events(db, "edu.subsidy.batch.cancelled", batch["id"]))[0]["data"][
            "note"
        ] == "政策代码选错"


class TestSpecialEducation:
    async def test_special_school_pupils_of_grades_1_to_9_are_compulsory_stage(self, world: World, db):
        u = world.users
        special = await world.school("51", world.townships[0], ["special"], "特殊教育学校")
        world.schools["special"] = special
        pupils = {}
        for grade in (4, 8, 10):
            body = world.student_body("primary", grade=min(grade, 6), groups=["orphan"])
            body["enrollment"].update(school_code=special["code"], stage="special", grade=grade)
            pupils[grade] = await u["county"].ok("POST", "/api/v1/students", 201, json=body)
        await world_projected(db, world, *pupils.values())
        policy = await make_policy(u["county"], stages=["primary"], boarding_only=False)
        batch = await make_batch(u["county"], world, policy, semester=CURRENT, school="special")
        assert [x["student_id"] for x in batch["lines"]] == [pupils[4]["id"]]
        reasons = {e["student_id"]: e["reason"] for e in batch["excluded"]}
        assert reasons == {pupils[8]["id"]: "stage", pupils[10]["id"]: "stage"}
