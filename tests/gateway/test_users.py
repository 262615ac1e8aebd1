"""User management: who may create, see and change whom; validation; versions."""

import pytest

from .conftest import PASSWORD, fresh_county, login, make_areas, unique

PROBLEM = "application/problem+json"


def body(role: str, area_code: str, school_code: str | None = None, **over) -> dict:
    return {
        "username": unique(role),
        "password": PASSWORD,
        "role": role,
        "area_code": area_code,
        "school_code": school_code,
        **over,
    }


def field_of(resp) -> list:
    return [e["loc"] for e in resp.json()["errors"]]


class TestCreate:
    async def test_admin_creates_county_201(self, client, admin):
        resp = await client.post("/api/v1/users", json=body("county", "610928"), headers=admin)
        assert resp.status_code == 201, resp.text
        user = resp.json()
        assert user["role"] == "county" and user["version"] == 1 and user["disabled"] is False
        assert not {"password", "password_hash"} & set(user)
        assert {"id", "created_at", "updated_at"} <= set(user)

    async def test_anonymous_401(self, client):
        resp = await client.post("/api/v1/users", json=body("county", "610928"))
        assert resp.status_code == 401

    async def test_county_creates_below_it_in_its_county(self, client, make_user):
        _, county = await make_user("county", "610928")
        for role, area, school in [
            ("county", "610928", None),
            ("township", "610928100", None),
            ("school", "610928", "2161000001"),
            ("village", "610928100201", None),
        ]:
            resp = await client.post("/api/v1/users", json=body(role, area, school), headers=county)
            assert resp.status_code == 201, (role, resp.text)

    @pytest.mark.parametrize(
        ("role", "area"),
        [("county", "610929"), ("township", "610929100"), ("admin", "610928"), ("platform", "610928")],
    )
    async def test_county_refused_elsewhere_or_above_403(self, client, make_user, role, area):
        _, county = await make_user("county", "610928")
        resp = await client.post("/api/v1/users", json=body(role, area), headers=county)
        assert resp.status_code == 403, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)

    async def test_township_cannot_create_county_403(self, client, make_user):
        _, township = await make_user("township", "610928100")
        resp = await client.post("/api/v1/users", json=body("county", "610928"), headers=township)
        assert resp.status_code == 403

    async def test_township_creates_in_its_township(self, client, make_user):
        _, township = await make_user("township", "610928100")
        ok = await client.post("/api/v1/users", json=body("village", "610928100201"), headers=township)
        assert ok.status_code == 201
        other = await client.post("/api/v1/users", json=body("village", "610928101201"), headers=township)
        assert other.status_code == 403

    async def test_school_outside_the_area_422(self, client, admin, make_user):
        """A school user sees its school wherever it is: only a school inside the area may be given."""
        county = fresh_county()
        await make_areas(client, admin, county)
        elsewhere = {"code": f"2161{county}", "name": "外县小学", "area_code": f"{county}100", "stages": ["primary"]}
        assert (await client.post("/api/v1/schools", json=elsewhere, headers=admin)).status_code == 201
        _, township = await make_user("township", "610928100")
        for school in (elsewhere["code"], "2161999999"):  # another county's school; no such school
            resp = await client.post(
                "/api/v1/users", json=body("school", "610928100", school), headers=township
            )
            assert resp.status_code == 422, resp.text
            assert resp.json()["errors"][0]["code"] == "unknown_school" and ["school_code"] in field_of(resp)
        made = await client.post("/api/v1/users", json=body("school", "610928100", "2161000001"), headers=township)
        assert made.status_code == 201, made.text
        moved = await client.patch(
            f"/api/v1/users/{made.json()['id']}", headers=township,
            json={"school_code": elsewhere["code"], "version": 1},
        )
        assert moved.status_code == 422 and ["school_code"] in field_of(moved)

    @pytest.mark.parametrize("role", ["school", "village"])
    async def test_others_manage_nobody_403(self, client, make_user, role):
        area = "610928100201" if role == "village" else "610928100"
        _, headers = await make_user(role, area, "2161000002" if role == "school" else None)
        resp = await client.post("/api/v1/users", json=body("village", "610928100201"), headers=headers)
        assert resp.status_code == 403
        assert (await client.get("/api/v1/users", headers=headers)).status_code == 403

    @pytest.mark.parametrize(
        ("role", "area", "school", "loc"),
        [
            ("county", "61092", None, ["area_code"]),
            ("county", "61092x", None, ["area_code"]),
            ("township", "610928", None, ["area_code"]),
            ("village", "610928100", None, ["area_code"]),
            ("admin", "610", None, ["area_code"]),
            ("school", "610928", None, ["school_code"]),
            ("school", "610928", "21610001", ["school_code"]),
            ("county", "610928", "2161000001", ["school_code"]),
            ("mayor", "610928", None, ["role"]),
        ],
    )
    async def test_bad_codes_422(self, client, admin, role, area, school, loc):
        resp = await client.post("/api/v1/users", json=body(role, area, school), headers=admin)
        assert resp.status_code == 422, resp.text
        assert resp.headers["content-type"].startswith(PROBLEM)
        assert loc in field_of(resp)

    @pytest.mark.parametrize("password", ["short1A", "alllowercase", "12345678901"])
    async def test_weak_password_422(self, client, admin, password):
        resp = await client.post(
            "/api/v1/users", json=body("county", "610928", password=password), headers=admin
        )
        assert resp.status_code == 422
        assert ["password"] in field_of(resp)

    async def test_username_taken_409(self, client, admin):
        first = body("county", "610928")
        assert (await client.post("/api/v1/users", json=first, headers=admin)).status_code == 201
        again = await client.post("/api/v1/users", json={**first, "area_code": "610929"}, headers=admin)
        assert again.status_code == 409


class TestReadAndList:
    async def test_other_county_404(self, client, make_user):
        other, _ = await make_user("county", "610929")
        _, county = await make_user("county", "610928")
        resp = await client.get(f"/api/v1/users/{other['id']}", headers=county)
        assert resp.status_code == 404
        resp = await client.patch(
            f"/api/v1/users/{other['id']}", headers=county, json={"disabled": True, "version": 1}
        )
        assert resp.status_code == 404

    async def test_township_does_not_see_its_county_user(self, client, make_user):
        county_user, _ = await make_user("county", "610928")
        _, township = await make_user("township", "610928100")
        resp = await client.get(f"/api/v1/users/{county_user['id']}", headers=township)
        assert resp.status_code == 404

    async def test_list_scoped_filtered_paged(self, client, make_user):
        code = fresh_county()
        _, county = await make_user("county", code)
        made = [
            (await client.post("/api/v1/users", json=body("township", f"{code}100"), headers=county)).json()
            for _ in range(3)
        ]
        await make_user("township", f"{fresh_county()}100")  # another county: never listed
        items, cursor = [], None
        while True:
            params = {"limit": 2, "role": "township", **({"cursor": cursor} if cursor else {})}
            page = (await client.get("/api/v1/users", params=params, headers=county)).json()
            items += page["items"]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert {u["id"] for u in items} == {u["id"] for u in made}
        assert all(u["area_code"].startswith(code) for u in items)
        page = (
            await client.get("/api/v1/users", params={"q": made[0]["username"][-8:]}, headers=county)
        ).json()
        assert [u["id"] for u in page["items"]] == [made[0]["id"]]

    async def test_limit_over_500_422(self, client, admin):
        assert (await client.get("/api/v1/users", params={"limit": 501}, headers=admin)).status_code == 422


class TestUpdate:
    async def test_stale_version_409(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        url = f"/api/v1/users/{user['id']}"
        first = await client.patch(url, json={"area_code": "610929", "version": 1}, headers=admin)
        assert first.status_code == 200 and first.json()["version"] == 2
        stale = await client.patch(url, json={"area_code": "610928", "version": 1}, headers=admin)
        assert stale.status_code == 409
        assert stale.json()["current_version"] == 2

    async def test_if_match(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        url = f"/api/v1/users/{user['id']}"
        resp = await client.patch(url, json={"area_code": "610929"}, headers={**admin, "If-Match": '"1"'})
        assert resp.status_code == 200 and resp.json()["area_code"] == "610929"

    async def test_version_required_422(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        resp = await client.patch(f"/api/v1/users/{user['id']}", json={"disabled": True}, headers=admin)
        assert resp.status_code == 422 and ["version"] in field_of(resp)

    async def test_password_change(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        resp = await client.patch(
            f"/api/v1/users/{user['id']}", headers=admin, json={"password": "New-pass-2026", "version": 1}
        )
        assert resp.status_code == 200
        assert (await login(client, user["username"], PASSWORD)).status_code == 401
        assert (await login(client, user["username"], "New-pass-2026")).status_code == 200

    async def test_weak_new_password_422(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        resp = await client.patch(
            f"/api/v1/users/{user['id']}", headers=admin, json={"password": "weak", "version": 1}
        )
        assert resp.status_code == 422 and ["password"] in field_of(resp)

    async def test_bad_area_for_role_422(self, client, admin, make_user):
        user, _ = await make_user("county", "610928")
        resp = await client.patch(
            f"/api/v1/users/{user['id']}", headers=admin, json={"area_code": "610928100", "version": 1}
        )
        assert resp.status_code == 422 and ["area_code"] in field_of(resp)

    async def test_move_out_of_own_area_403(self, client, make_user):
        _, county = await make_user("county", "610928")
        township = (
            await client.post("/api/v1/users", json=body("township", "610928100"), headers=county)
        ).json()
        resp = await client.patch(
            f"/api/v1/users/{township['id']}", headers=county, json={"area_code": "610929100", "version": 1}
        )
        assert resp.status_code == 403


class TestDisable:
    async def test_disable_enable(self, client, admin, make_user):
        user, _ = await make_user("township", "610928100")
        tokens = (await login(client, user["username"], PASSWORD)).json()
        resp = await client.post(f"/api/v1/users/{user['id']}/disable", headers=admin)
        assert resp.status_code == 200 and resp.json()["version"] == 2
        assert (await login(client, user["username"], PASSWORD)).status_code == 401
        refreshed = await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        assert refreshed.status_code == 401
        params = {"disabled": True, "q": user["username"]}
        listed = (await client.get("/api/v1/users", params=params, headers=admin)).json()
        assert [u["id"] for u in listed["items"]] == [user["id"]]
        params["disabled"] = False
        assert (await client.get("/api/v1/users", params=params, headers=admin)).json()["items"] == []
        resp = await client.post(f"/api/v1/users/{user['id']}/enable", headers=admin)
        assert resp.status_code == 200 and resp.json()["disabled"] is False
        assert (await login(client, user["username"], PASSWORD)).status_code == 200

    async def test_cannot_disable_self(self, client, make_user):
        me, county = await make_user("county", "610928")
        resp = await client.post(f"/api/v1/users/{me['id']}/disable", headers=county)
        assert resp.status_code == 422
