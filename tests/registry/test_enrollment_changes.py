"""Enrollment changes are kept as history; transfers keep one student."""


from services.contracts.calendar import today as local_today
from tests.helpers import World

TODAY = local_today().isoformat()


class TestEnrollmentChanges:
    async def test_transfer_across_townships_keeps_one_student(self, world: World):
        county = world.users["county"]
        s = await world.student("primary", as_=county)
        change = await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={
                "kind": "transfer",
                "effective_date": TODAY,
                "reason": "随父母迁居",
                "details": {"school_code": world.schools["junior"]["code"]},
            },
        )
        assert change["from_school_code"] == world.schools["primary"]["code"]
        assert change["to_school_code"] == world.schools["junior"]["code"]
        assert change["actor"] == county.username
        moved = await county.ok("GET", f"/api/v1/students/{s['id']}")
        assert moved["enrollment"]["school_code"] == world.schools["junior"]["code"]
        assert moved["area_code"] == world.townships[1] and moved["id"] == s["id"]
        # The old school's user no longer sees the student.
        assert (await world.users["school"].get(f"/api/v1/students/{s['id']}")).status_code == 404
        history = await county.ok("GET", f"/api/v1/students/{s['id']}/history")
        assert [h["kind"] for h in history["items"]] == ["enroll", "transfer"]

    async def test_suspend_then_return(self, world: World):
        school = world.users["school"]
        s = await world.student("primary", as_=school)
        url = f"/api/v1/students/{s['id']}/enrollment-changes"
        await school.ok("POST", url, 201, json={"kind": "suspend", "effective_date": TODAY, "reason": "病休"})
        assert (await school.ok("GET", f"/api/v1/students/{s['id']}"))["enrollment"]["status"] == "suspended"
        await school.ok("POST", url, 201, json={"kind": "return", "effective_date": TODAY})
        assert (await school.ok("GET", f"/api/v1/students/{s['id']}"))["enrollment"]["status"] == "enrolled"

    async def test_out_of_county_needs_where(self, world: World):
        s = await world.student("primary")
        url = f"/api/v1/students/{s['id']}/enrollment-changes"
        resp = await world.admin.post(url, json={"kind": "out_of_county", "effective_date": TODAY})
        assert resp.status_code == 422
        ok = await world.admin.ok(
            "POST",
            url,
            201,
            json={
                "kind": "out_of_county",
                "effective_date": TODAY,
                "details": {"province": "浙江省", "county": "义乌市"},
            },
        )
        assert ok["to_status"] == "out_of_county" and ok["details"]["county"] == "义乌市"

    async def test_impossible_transition_409(self, world: World):
        s = await world.student("primary")
        url = f"/api/v1/students/{s['id']}/enrollment-changes"
        await world.admin.ok("POST", url, 201, json={"kind": "deceased", "effective_date": TODAY})
        resp = await world.admin.post(url, json={"kind": "return", "effective_date": TODAY})
        assert resp.status_code == 409

    async def test_transfer_to_unknown_school_422(self, world: World):
        s = await world.student("primary")
        resp = await world.admin.post(
            f"/api/v1/students/{s['id']}/enrollment-changes",
            json={"kind": "transfer", "effective_date": TODAY, "details": {"school_code": "2161999998"}},
        )
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["details", "school_code"]

    async def test_village_user_cannot_change_enrollment(self, world: World):
        s = await world.student("primary")
        resp = await world.users["village"].post(
            f"/api/v1/students/{s['id']}/enrollment-changes",
            json={"kind": "suspend", "effective_date": TODAY},
        )
        assert resp.status_code in (403, 404)


class TestUpdateStudent:
    async def test_patch_with_version(self, world: World):
        s = await world.student("primary")
        url = f"/api/v1/students/{s['id']}"
        got = await world.admin.ok(
            "PATCH", url, json={"version": 1, "groups": ["left_behind"], "enrollment": {"grade": 4}}
        )
        assert got["groups"] == ["left_behind"] and got["enrollment"]["grade"] == 4 and got["version"] == 2
        stale = await world.admin.patch(url, json={"version": 1, "name": "新名字"})
        assert stale.status_code == 409
        via_if_match = await world.admin.patch(url, json={"name": "新名字"}, headers={"If-Match": '"2"'})
        assert via_if_match.status_code == 200 and via_if_match.json()["name"] == "新名字"

    async def test_patch_without_version_422(self, world: World):
        s = await world.student("primary")
        resp = await world.admin.patch(f"/api/v1/students/{s['id']}", json={"name": "x"})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["version"]

    async def test_disability_sets_group_and_category(self, world: World):
        s = await world.student("primary")
        got = await world.admin.ok(
            "PATCH",
            f"/api/v1/students/{s['id']}",
            json={"version": 1, "groups": [], "disability": {"category": "hearing", "grade": 2}},
        )
        assert got["groups"] == ["disabled"] and got["categories"] == ["disabled"]
