"""Aid received elsewhere (区域外资助): recorded with its follow-up letter, it keeps the child out of a batch."""

from datetime import timedelta

from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    TODAY,
    add_student,
    events,
    make_batch,
    make_policy,
    world_projected,
)

URL = "/api/v1/subsidy/aid-elsewhere"


def body(student: dict, **over) -> dict:
    return {
        "student_id": student["id"],
        "payer": {"name": "贵州省毕节市七星关区", "code": "520502"},
        "policy_kind": "living_allowance",
        "semester": CURRENT,
        "amount_fen": 62500,
        "evidence": "七星关区资助中心发放名册复印件",
        **over,
    }


class TestAidElsewhere:
    async def test_paid_elsewhere_keeps_the_child_out_with_its_own_reason(self, world: World, db):
        u = world.users
        covered, other = await add_student(world), await add_student(world)
        await world_projected(db, world, covered, other)
        aid = await u["school"].ok("POST", URL, 201, json=body(covered))
        assert aid["payer"] == {"name": "贵州省毕节市七星关区", "code": "520502"}
        assert (
            aid["letter"]["status"] == "not_sent" and aid["school_code"] == world.schools["primary"]["code"]
        )
        (event,) = await events(db, "edu.subsidy.aid_elsewhere.recorded", aid["id"])
        assert event["data"]["payer_name"] == "贵州省毕节市七星关区" and event["data"]["amount_fen"] == 62500
        policy = await make_policy(u["county"])
        batch = await make_batch(u["school"], world, policy, semester=CURRENT)
        assert [line["student_id"] for line in batch["lines"]] == [other["id"]]
        (excluded,) = [e for e in batch["excluded"] if e["student_id"] == covered["id"]]
        assert excluded["reason"] == "paid_elsewhere" and excluded["reason_text"] == "已在区域外享受同类资助"
        # Aid of another kind elsewhere does not cover a living allowance here.
        grant = await make_policy(u["county"], kind="grant")
        await u["county"].ok("POST", URL, 201, json=body(other, policy_kind="grant"))
        second = await make_batch(u["school"], world, grant, semester=CURRENT)
        assert {x["student_id"] for x in second["lines"]} == {covered["id"]}

    async def test_follow_up_letter_sent_overdue_answered(self, world: World, db):
        u = world.users
        hh = await u["county"].ok(
            "POST",
            "/api/v1/households",
            201,
            json={"head_name": "赵大", "area_code": world.villages[0], "statuses": []},
        )
        s = await add_student(world, household_id=hh["id"])
        await world_projected(db, world, s)
        sent, due = TODAY - timedelta(days=40), TODAY - timedelta(days=10)
        letter = {"sent_on": sent.isoformat(), "due_on": due.isoformat()}
        aid = await u["county"].ok("POST", URL, 201, json=body(s, letter=letter))
        assert aid["letter"]["status"] == "overdue" and aid["letter"]["status_text"] == "逾期未复函"
        page = await u["county"].ok("GET", URL, params={"letter_status": "overdue", "student_id": s["id"]})
        assert [x["id"] for x in page["items"]] == [aid["id"]]
        answered = {**letter, "answered_on": TODAY.isoformat(), "note": "对方复函确认已发放"}
        got = await u["county"].ok("PATCH", f"{URL}/{aid['id']}", json={"version": 1, "letter": answered})
        assert got["letter"]["status"] == "answered" and got["version"] == 2
        assert (await u["county"].ok("GET", URL, params={"letter_status": "overdue", "student_id": s["id"]}))[
            "items"
        ] == []
        assert await events(db, "edu.subsidy.aid_elsewhere.updated", aid["id"])
        # The village sees its children's records, never writes them.
        assert (await u["village"].ok("GET", f"{URL}/{aid['id']}"))["id"] == aid["id"]
        assert (await u["village"].post(URL, json=body(s))).status_code == 403

    async def test_bad_input_names_the_field(self, world: World, db):
        u = world.users
        s = await add_student(world)
        await world_projected(db, world, s)
        for over, field in (
            ({"semester": "2026-summer"}, "semester"),
            ({"amount_fen": 0}, "amount_fen"),
            ({"policy_kind": "bribe"}, "policy_kind"),
            ({"letter": {"due_on": TODAY.isoformat()}}, "letter"),
        ):
            resp = await u["county"].post(URL, json=body(s, **over))
            assert resp.status_code == 422, resp.text
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert field in resp.text
        future = f"{TODAY.year + 1}-autumn"
        resp = await u["county"].post(URL, json=body(s, semester=future))
        assert resp.status_code == 422 and "semester" in resp.text
        other_county = "00000000-0000-4000-8000-000000000000"
        assert (await u["county"].post(URL, json=body(s, student_id=other_county))).status_code == 404
