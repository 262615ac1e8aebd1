"""结对帮扶: pairings, the helper's record and due tasks, visit months, 受扶持率 — through the gateway."""

import secrets
from datetime import timedelta

from services.contracts.calendar import today as local_today
from tests.dropout.helpers import projected, tasks
from tests.helpers import World, eventually

PAIRINGS = "/api/v1/support/pairings"
RATE = "/api/v1/support/rate"
CAMPAIGNS = "/api/v1/support/campaigns"
TODAY = local_today()


async def poor_student(world: World, db, village: str, *, school: str = "primary", poor: bool = True) -> dict:
    """A student of a registered-poor household (aid category registered_poor) of a village."""
    statuses = [{"kind": "registered_poor", "since": "2020-01-01"}] if poor else []
    hh = await world.admin.ok(
        "POST",
        "/api/v1/households",
        201,
        json={
            "head_name": "王建国",
            "area_code": village,
            "platform_id": secrets.token_hex(6),
            "statuses": statuses,
        },
    )
    s = await world.student(school, household_id=hh["id"])
    await projected(db, s["id"])
    return s


def pairing_body(s: dict, **kw) -> dict:
    return {"student_id": s["id"], "helper": {"name": "李建军", "phone": "13800000000"}, **kw}


async def rate(api, area: str) -> dict:
    return await api.ok("GET", RATE, params={"area_code": area})


class TestSupportRate:
    async def test_a_child_without_a_helper_lowers_the_rate(self, world: World, db):
        v0 = world.villages[0]
        a, b = await poor_student(world, db, v0), await poor_student(world, db, v0)
        await poor_student(world, db, v0, poor=False)  # no aid category: nobody has to pair it
        county = world.users["county"]
        assert (await rate(county, v0))["children"] == 2
        await county.ok("POST", PAIRINGS, 201, json=pairing_body(a))
        got = await rate(county, v0)
        assert (got["children"], got["with_helper"], got["without_helper"], got["rate"]) == (2, 1, 1, 0.5)
        assert "registry" in got["as_of"]
        await county.ok("POST", PAIRINGS, 201, json=pairing_body(b))
        assert (await rate(county, v0))["rate"] == 1.0
        # The village cadre sees its village's figure; a child of another village is not in it.
        other = await poor_student(world, db, world.villages[1])
        assert (await rate(world.users["village"], v0))["children"] == 2
        whole = await rate(world.users["township"], world.townships[0])
        assert (whole["children"], whole["with_helper"]) == (3, 2)
        assert other["id"]

    async def test_an_ended_pairing_no_longer_counts(self, world: World, db):
        v0 = world.villages[0]
        s = await poor_student(world, db, v0)
        county = world.users["county"]
        since = (TODAY - timedelta(days=30)).isoformat()
        p = await county.ok("POST", PAIRINGS, 201, json=pairing_body(s, since=since))
        ended = await county.ok(
            "PATCH",
            f"{PAIRINGS}/{p['id']}",
            json={"until": (TODAY - timedelta(days=1)).isoformat(), "version": p["version"]},
        )
        assert ended["active"] is False
        assert (await rate(county, v0))["with_helper"] == 0

    async def test_rate_outside_the_callers_area_is_404(self, world: World, db):
        resp = await world.users["township"].get(RATE, params={"area_code": world.townships[1]})
        assert resp.status_code == 404


class TestDueRules:
    async def test_a_helper_who_misses_the_weekly_contact_has_an_overdue_task(self, world: World, db):
        s = await poor_student(world, db, world.villages[0])
        helper = world.users["school"]  # a teacher of the child's school, a user of ours
        since = TODAY - timedelta(days=10)
        p = await world.users["county"].ok(
            "POST",
            PAIRINGS,
            201,
            json={"student_id": s["id"], "helper": {"username": helper.username, "title": "班主任"},
                  "since": since.isoformat(), "plan": "每周联系，每月家访"},
        )  # fmt: skip
        assert p["helper_name"] == helper.username
        mine = {t["kind"]: t for t in await tasks(helper, student_id=s["id"])}
        assert mine["support_contact"]["due_on"] == (since + timedelta(days=7)).isoformat()  # overdue
        assert mine["support_contact"]["due_on"] < TODAY.isoformat()
        assert mine["support_home_visit"]["due_on"] == (since + timedelta(days=30)).isoformat()
        assert mine["support_contact"]["assignee"] == helper.username
        # The helper calls the family: the contact task is done, the next one due in a week.
        await helper.ok(
            "POST", f"{PAIRINGS}/{p['id']}/records", 201, json={"kind": "contact", "note": "电话联系"}
        )
        mine = {t["kind"]: t for t in await tasks(helper, student_id=s["id"])}
        assert mine["support_contact"]["due_on"] == (TODAY + timedelta(days=7)).isoformat()
        done = [t for t in await tasks(helper, student_id=s["id"], status="done")]
        assert [t["kind"] for t in done] == ["support_contact"]
        # Through the gateway's merged list too.
        merged = await helper.ok("GET", "/api/v1/tasks")
        assert any(t["kind"] == "support_contact" and t["student_id"] == s["id"] for t in merged["items"])

    async def test_a_named_helpers_tasks_go_to_the_village(self, world: World, db):
        s = await poor_student(world, db, world.villages[0])
        await world.users["county"].ok("POST", PAIRINGS, 201, json=pairing_body(s))
        kinds = sorted(t["kind"] for t in await tasks(world.users["village"], student_id=s["id"]))
        assert kinds == ["support_contact", "support_home_visit"]
        assert await tasks(world.users["school"], student_id=s["id"]) == []


class TestRecordsAndScope:
    async def test_village_user_records_a_visit_for_a_child_of_its_village(self, world: World, db):
        s = await poor_student(world, db, world.villages[0])
        p = await world.users["county"].ok("POST", PAIRINGS, 201, json=pairing_body(s))
        village = world.users["village"]
        rec = await village.ok(
            "POST",
            f"{PAIRINGS}/{p['id']}/records",
            201,
            json={"kind": "home_visit", "note": "入户走访", "evidence": ["ev_1a2b"]},
        )
        assert (rec["kind"], rec["evidence"], rec["actor_role"]) == ("home_visit", ["ev_1a2b"], "village")
        page = await village.ok("GET", f"{PAIRINGS}/{p['id']}/records")
        assert [r["id"] for r in page["items"]] == [rec["id"]]
        read = await village.ok("GET", f"{PAIRINGS}/{p['id']}")
        assert read["last_home_visit_at"] is not None

    async def test_out_of_scope_is_404_or_unknown(self, world: World, db):
        s = await poor_student(world, db, world.villages[2], school="junior")  # the other township
        p = await world.users["county"].ok("POST", PAIRINGS, 201, json=pairing_body(s))
        for role in ("village", "school", "township"):
            assert (await world.users[role].get(f"{PAIRINGS}/{p['id']}")).status_code == 404, role
            resp = await world.users[role].post(f"{PAIRINGS}/{p['id']}/records", json={"kind": "contact"})
            assert resp.status_code == 404, role
        listed = await world.users["township"].ok("GET", PAIRINGS, params={"student_id": s["id"]})
        assert listed["items"] == []
        resp = await world.users["school"].post(PAIRINGS, json=pairing_body(s))
        assert resp.status_code == 422 and resp.json()["errors"][0]["code"] == "unknown_student"

    async def test_one_active_pairing_per_child(self, world: World, db):
        s = await poor_student(world, db, world.villages[0])
        await world.users["county"].ok("POST", PAIRINGS, 201, json=pairing_body(s))
        resp = await world.users["county"].post(PAIRINGS, json=pairing_body(s))
        assert resp.status_code == 409 and resp.json()["existing_pairing_id"]


class TestBadInput:
    async def test_422_names_the_field(self, world: World, db):
        s = await poor_student(world, db, world.villages[0])
        county = world.users["county"]
        cases = [
            (PAIRINGS, {"student_id": s["id"], "helper": {"name": "李建军"}}, ["helper"]),
            (PAIRINGS, pairing_body(s, since="2026-12-01", until="2026-11-01"), ["until"]),
            (PAIRINGS, pairing_body(s, helper={"name": "李", "phone": "abc"}), ["helper", "phone"]),
            (CAMPAIGNS, {"area_code": world.code, "month": "2026-13"}, ["month"]),
            (CAMPAIGNS, {"area_code": "61", "month": "2026-12"}, ["area_code"]),
        ]
        for path, body, loc in cases:
            resp = await county.post(path, json=body)
            assert resp.status_code == 422, (body, resp.text)
            assert resp.headers["content-type"].startswith("application/problem+json")
            assert resp.json()["errors"][0]["loc"] == loc, resp.json()
        p = await county.ok("POST", PAIRINGS, 201, json=pairing_body(s))
        resp = await county.post(f"{PAIRINGS}/{p['id']}/records", json={"kind": "phone_call"})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["kind"]
        future = (TODAY + timedelta(days=3)).isoformat() + "T10:00:00+08:00"
        resp = await county.post(
            f"{PAIRINGS}/{p['id']}/records", json={"kind": "contact", "occurred_at": future}
        )
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["occurred_at"]


class TestCampaigns:
    async def test_coverage_of_a_visit_month(self, world: World, db):
        v0 = world.villages[0]
        a, b = await poor_student(world, db, v0), await poor_student(world, db, v0)
        county = world.users["county"]
        month = TODAY.strftime("%Y-%m")
        camp = await county.ok(
            "POST", CAMPAIGNS, 201, json={"area_code": v0, "month": month, "name": "集中走访月"}
        )
        p = await county.ok("POST", PAIRINGS, 201, json=pairing_body(a))
        await world.users["village"].ok(
            "POST", f"{PAIRINGS}/{p['id']}/records", 201, json={"kind": "home_visit"}
        )
        await county.ok("POST", PAIRINGS, 201, json=pairing_body(b))

        async def covered():
            got = await county.ok("GET", f"{CAMPAIGNS}/{camp['id']}")
            return got if got["coverage"]["children"] == 2 else None

        got = await eventually(covered)
        assert (got["coverage"]["visited"], got["coverage"]["rate"]) == (1, 0.5)
        # The village sees the month too; a second one for the same area and month is a conflict.
        listed = await world.users["village"].ok("GET", CAMPAIGNS, params={"month": month})
        assert [c["id"] for c in listed["items"]] == [camp["id"]]
        resp = await county.post(CAMPAIGNS, json={"area_code": v0, "month": month})
        assert resp.status_code == 409
        assert (
            await world.users["school"].post(CAMPAIGNS, json={"area_code": v0, "month": month})
        ).status_code == 403
