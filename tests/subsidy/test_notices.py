"""Notices to parents (告知书): what was paid, by which policy, how much; JSON and printable Chinese HTML."""

from tests.helpers import World
from tests.subsidy.helpers import (
    PAST,
    add_student,
    approve_and_pay,
    events,
    make_batch,
    make_policy,
    world_projected,
)


async def paid_student(world: World, db) -> tuple[dict, dict]:
    hh = await world.users["county"].ok(
        "POST",
        "/api/v1/households",
        201,
        json={
            "head_name": "张三",
            "area_code": world.villages[0],
            "platform_id": f"N{world.code}",
            "statuses": [],
        },
    )
    s = await add_student(world, household_id=hh["id"])
    await world_projected(db, world, s)
    county = world.users["county"]
    living = await make_policy(county, name="寄宿生生活补助", amount_fen=62500)
    waiver = await make_policy(county, name="免作业本费", kind="waiver", boarding_only=False, amount_fen=1234)
    for policy in (living, waiver):
        await approve_and_pay(world, await make_batch(world.users["school"], world, policy))
    return s, living


class TestNotice:
    async def test_json_lists_what_was_paid(self, world: World, db):
        s, living = await paid_student(world, db)
        notice = await world.users["village"].ok(
            "GET", f"/api/v1/subsidy/notices/{s['id']}", params={"semester": PAST}
        )
        assert notice["name"] == s["name"] and notice["semester"] == PAST
        assert sorted(i["amount_fen"] for i in notice["items"]) == [1234, 62500]
        assert notice["total_fen"] == 63734 and notice["acknowledgement"] is None
        item = {i["policy_code"]: i for i in notice["items"]}[living["code"]]
        assert item["policy_kind_label"] == "生活补助" and item["paid_on"]

    async def test_printable_html_in_chinese(self, world: World, db):
        s, _ = await paid_student(world, db)
        url = f"/api/v1/subsidy/notices/{s['id']}"
        resp = await world.users["school"].get(url, params={"semester": PAST, "format": "html"})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        assert "学生资助告知书" in resp.text and "637.34" in resp.text and "625.00" in resp.text
        assert "12.34" in resp.text and s["name"] in resp.text
        by_accept = await world.users["school"].get(
            url, params={"semester": PAST}, headers={"Accept": "text/html"}
        )
        assert by_accept.headers["content-type"].startswith("text/html")

    async def test_acknowledgement_recorded_once(self, world: World, db):
        s, _ = await paid_student(world, db)
        url = f"/api/v1/subsidy/notices/{s['id']}/acknowledge"
        assert (await world.users["county"].post(url, params={"semester": PAST})).status_code == 403
        first = await world.users["village"].ok(
            "POST", url, 201, json={"semester": PAST, "note": "家长已签字"}
        )
        assert first["acknowledged_by"] == world.users["village"].username and first["role"] == "village"
        again = await world.users["school"].ok("POST", url, 200, params={"semester": PAST})
        assert again == first
        notice = await world.users["school"].ok(
            "GET", f"/api/v1/subsidy/notices/{s['id']}", params={"semester": PAST}
        )
        assert notice["acknowledgement"]["acknowledged_at"] == first["acknowledged_at"]
        assert (await events(db, "edu.subsidy.notice.acknowledged", s["id"]))[0]["data"]["semester"] == PAST
        page = await world.users["school"].get(
            f"/api/v1/subsidy/notices/{s['id']}", params={"semester": PAST, "format": "html"}
        )
        assert "确认收悉" in page.text

    async def test_nothing_paid_409_and_scope_404(self, world: World, db):
        s = await add_student(world, groups=[])
        await world_projected(db, world, s)
        resp = await world.users["school"].post(
            f"/api/v1/subsidy/notices/{s['id']}/acknowledge", params={"semester": PAST}
        )
        assert resp.status_code == 409
        other_school = await world.user("school", world.townships[1], world.schools["junior"]["code"])
        assert (await other_school.get(f"/api/v1/subsidy/notices/{s['id']}")).status_code == 404
        assert (
            await world.users["school"].get(f"/api/v1/subsidy/notices/{s['id']}", params={"semester": "2026"})
        ).status_code == 422
