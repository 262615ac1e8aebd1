"""Policies (奖贷助补免): who makes them, who sees them, and versioning once in use."""

import pytest

from services.subsidy.demo import national_policies
from tests.helpers import Api, World
from tests.subsidy.helpers import PAST, events, make_batch, make_policy, policy_body, world_projected

URL = "/api/v1/subsidy/policies"


class TestCreatePolicy:
    async def test_county_creates_for_its_county(self, world: World, db):
        county = world.users["county"]
        p = await make_policy(county)
        assert p["area_code"] == world.code and p["revision"] == 1 and p["current"] is True
        assert p["amount_fen"] == 62500 and p["boarding_only"] is True and p["version"] == 1
        created = await events(db, "edu.subsidy.policy.created", p["code"])
        assert created[0]["data"]["amount_fen"] == 62500 and created[0]["area_code"] == world.code

    @pytest.mark.parametrize("role", ["township", "school", "village"])
    async def test_other_roles_403(self, world: World, role: str):
        resp = await world.users[role].post(URL, json=policy_body())
        assert resp.status_code == 403

    @pytest.mark.parametrize(
        ("change", "field"),
        [
            ({"amount_fen": 625.5}, "amount_fen"),
            ({"amount_fen": "62500"}, "amount_fen"),
            ({"amount_fen": 0}, "amount_fen"),
            ({"stages": []}, "stages"),
            ({"stages": ["kindergarten"]}, "stages"),
            ({"categories": ["rich"]}, "categories"),
            ({"kind": "gift"}, "kind"),
            ({"years": []}, "years"),
            ({"code": "bad code!"}, "code"),
            ({"area_code": "629999"}, "area_code"),
        ],
    )
    async def test_bad_input_422_names_field(self, world: World, change: dict, field: str):
        resp = await world.users["county"].post(URL, json=policy_body(**change))
        assert resp.status_code == 422, resp.text
        assert resp.json()["errors"][0]["loc"][0] == field

    async def test_both_boarding_flags_422(self, world: World):
        resp = await world.users["county"].post(URL, json=policy_body(non_boarders_only=True))
        assert resp.status_code == 422

    async def test_duplicate_code_409(self, world: World):
        body = policy_body()
        await world.users["county"].ok("POST", URL, 201, json=body)
        assert (await world.users["county"].post(URL, json=body)).status_code == 409

    async def test_demo_national_policies_are_valid(self, api: Api):
        bodies = national_policies()
        assert {b["kind"] for b in bodies} == {"grant", "living_allowance", "waiver"}
        for body in bodies:
            body = body | {"code": f"{body['code']}-{policy_body()['code']}"}
            got = await api.ok("POST", URL, 201, json=body)
            assert got["area_code"] == "61" and got["amount_fen"] == body["amount_fen"]


class TestReadPolicies:
    async def test_visible_under_and_above_not_beside(self, world: World, api: Api):
        county = world.users["county"]
        province = await make_policy(api)  # the admin's area: the whole province
        own = await make_policy(county)
        elsewhere = await make_policy(api, area_code="619999")
        got = await world.users["school"].ok("GET", f"{URL}/{province['code']}")
        assert got["area_code"] == "61"
        assert (await world.users["village"].get(f"{URL}/{own['code']}")).status_code == 200
        assert (await county.get(f"{URL}/{elsewhere['code']}")).status_code == 404
        codes = [p["code"] for p in (await county.ok("GET", URL, params={"limit": 500}))["items"]]
        assert own["code"] in codes and province["code"] in codes and elsewhere["code"] not in codes

    async def test_filters(self, world: World):
        county = world.users["county"]
        grant = await make_policy(county, kind="grant", stages=["junior"])
        page = await county.ok(
            "GET", URL, params={"kind": "grant", "stage": "junior", "area_code": world.code}
        )
        assert grant["code"] in [p["code"] for p in page["items"]]
        assert all(p["kind"] == "grant" for p in page["items"])
        assert (await county.get(URL, params={"stage": "nursery"})).status_code == 422


class TestUpdatePolicy:
    async def test_unused_policy_changes_in_place(self, world: World, db):
        county = world.users["county"]
        p = await make_policy(county)
        got = await county.ok("PATCH", f"{URL}/{p['code']}", json={"version": 1, "amount_fen": 63000})
        assert got["revision"] == 1 and got["version"] == 2 and got["amount_fen"] == 63000
        assert await events(db, "edu.subsidy.policy.updated", p["code"])

    async def test_policy_in_use_is_versioned_not_edited(self, world: World, db):
        county = world.users["county"]
        p = await make_policy(county)
        await world_projected(db, world)
        batch = await make_batch(county, world, p)
        got = await county.ok("PATCH", f"{URL}/{p['code']}", json={"version": 1, "amount_fen": 75000})
        assert got["revision"] == 2 and got["version"] == 2 and got["amount_fen"] == 75000
        old = await county.ok("GET", f"{URL}/{p['code']}", params={"revision": 1})
        assert old["amount_fen"] == 62500 and old["current"] is False
        again = await county.ok("GET", f"/api/v1/subsidy/batches/{batch['id']}")
        assert again["policy_revision"] == 1 and again["amount_fen"] == 62500
        revisions = await county.ok("GET", URL, params={"code": p["code"], "all_revisions": "true"})
        assert [r["revision"] for r in revisions["items"]] == [1, 2]
        assert (await events(db, "edu.subsidy.policy.versioned", p["code"]))[0]["data"]["revision"] == 2
        assert PAST  # the batch above was for a past semester, generated under revision 1

    async def test_stale_version_409(self, world: World):
        county = world.users["county"]
        p = await make_policy(county)
        await county.ok("PATCH", f"{URL}/{p['code']}", json={"version": 1, "name": "新名称"})
        resp = await county.patch(f"{URL}/{p['code']}", json={"version": 1, "name": "又一个"})
        assert resp.status_code == 409

    async def test_county_cannot_change_provincial_policy(self, world: World, api: Api):
        p = await make_policy(api)
        resp = await world.users["county"].patch(f"{URL}/{p['code']}", json={"version": 1, "amount_fen": 1})
        assert resp.status_code == 403
