"""Households, dated statuses and the categories they give their students."""

from datetime import date

from tests.helpers import World


def household_body(world: World, village: int = 0, **over) -> dict:
    body = {
        "head_name": "王建国",
        "area_code": world.villages[village],
        "platform_id": f"P{world.code}{village}{date.today():%H%M%S%f}",
        "statuses": [
            {"kind": "registered_poor", "since": "2016-01-01", "until": "2020-01-01"},
            {"kind": "lifted", "since": "2020-01-01"},
        ],
    }
    body.update(over)
    return body


class TestHouseholds:
    async def test_create_and_link_student_gets_categories(self, world: World):
        county = world.users["county"]
        hh = await county.ok("POST", "/api/v1/households", 201, json=household_body(world))
        assert hh["current_kinds"] == ["lifted"]
        student = await world.student("primary", household_id=hh["id"], groups=["orphan"], as_=county)
        # A household lifted out of poverty stays eligible as formerly registered (原建档立卡).
        assert student["categories"] == ["orphan", "registered_poor"]
        assert student["household_id"] == hh["id"]

    async def test_status_change_rederives_categories(self, world: World):
        county = world.users["county"]
        hh = await county.ok("POST", "/api/v1/households", 201, json=household_body(world, statuses=[]))
        student = await world.student("primary", household_id=hh["id"], as_=county)
        assert student["categories"] == []
        patched = await county.ok(
            "PATCH",
            f"/api/v1/households/{hh['id']}",
            json={"version": hh["version"], "statuses": [{"kind": "dibao", "since": "2026-01-01"}]},
        )
        assert patched["current_kinds"] == ["dibao"] and patched["version"] == 2
        again = await county.ok("GET", f"/api/v1/students/{student['id']}")
        assert again["categories"] == ["dibao"] and again["version"] == 2

    async def test_stale_version_409(self, world: World):
        county = world.users["county"]
        hh = await county.ok("POST", "/api/v1/households", 201, json=household_body(world))
        await county.ok("PATCH", f"/api/v1/households/{hh['id']}", json={"version": 1, "head_name": "李四"})
        resp = await county.patch(f"/api/v1/households/{hh['id']}", json={"version": 1, "head_name": "张三"})
        assert resp.status_code == 409
        assert resp.json()["current_version"] == 2

    async def test_village_outside_area_422(self, world: World):
        resp = await world.users["county"].post(
            "/api/v1/households", json=household_body(world) | {"area_code": "610000100201"}
        )
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["area_code"]

    async def test_duplicate_platform_id_409(self, world: World):
        body = household_body(world)
        await world.users["county"].ok("POST", "/api/v1/households", 201, json=body)
        resp = await world.users["county"].post("/api/v1/households", json=body)
        assert resp.status_code == 409

    async def test_village_user_sees_only_its_village(self, world: World):
        county = world.users["county"]
        mine = await county.ok("POST", "/api/v1/households", 201, json=household_body(world, 0))
        other = await county.ok("POST", "/api/v1/households", 201, json=household_body(world, 1))
        village = world.users["village"]
        assert (await village.get(f"/api/v1/households/{other['id']}")).status_code == 404
        page = await village.ok("GET", "/api/v1/households")
        assert [h["id"] for h in page["items"]] == [mine["id"]]

    async def test_bad_status_dates_422(self, world: World):
        resp = await world.users["county"].post(
            "/api/v1/households",
            json=household_body(
                world, statuses=[{"kind": "dibao", "since": "2026-01-01", "until": "2025-01-01"}]
            ),
        )
        assert resp.status_code == 422
