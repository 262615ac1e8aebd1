"""Students through the gateway: create, read, list, scope, validation, dedup."""

from datetime import date, timedelta

import pytest

from services.contracts.calendar import today as local_today
from tests.helpers import World, birth_for, make_id_number


class TestCreateStudent:
    async def test_county_user_registers_student(self, world: World):
        county = world.users["county"]
        body = world.student_body()
        student = await county.ok("POST", "/api/v1/students", 201, json=body)
        assert student["name"] == body["name"]
        assert student["id_number_masked"] == body["id_number"][:6] + "********" + body["id_number"][-4:]
        assert "id_number" not in student or student["id_number"] is None
        assert (
            student["birth_date"]
            == f"{body['id_number'][6:10]}-{body['id_number'][10:12]}-{body['id_number'][12:14]}"
        )
        assert student["gender"] == ("male" if int(body["id_number"][16]) % 2 else "female")
        # 学籍号 defaults to G + the ID number, so it is masked alike unless the ID is revealed.
        assert student["student_number"] == "G" + body["id_number"][:6] + "********" + body["id_number"][-4:]
        assert student["enrollment"]["school_code"] == world.schools["primary"]["code"]
        assert student["area_code"] == world.townships[0]
        assert student["version"] == 1

    async def test_anonymous_401(self, world: World):
        resp = await world.admin.client.post("/api/v1/students", json=world.student_body())
        assert resp.status_code == 401
        assert resp.headers["content-type"].startswith("application/problem+json")

    async def test_village_user_cannot_register_403(self, world: World):
        resp = await world.users["village"].post("/api/v1/students", json=world.student_body())
        assert resp.status_code == 403

    async def test_school_user_only_own_school(self, world: World):
        school = world.users["school"]
        await school.ok("POST", "/api/v1/students", 201, json=world.student_body("primary"))
        resp = await school.post("/api/v1/students", json=world.student_body("other_primary"))
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["enrollment", "school_code"]

    async def test_duplicate_id_number_409_points_to_existing(self, world: World):
        body = world.student_body()
        first = await world.admin.ok("POST", "/api/v1/students", 201, json=body)
        again = {**world.student_body("junior"), "id_number": body["id_number"]}
        resp = await world.admin.post("/api/v1/students", json=again)
        assert resp.status_code == 409
        assert resp.json()["existing"] == {
            "id": first["id"],
            "school_code": first["enrollment"]["school_code"],
        }

    async def test_duplicate_outside_scope_does_not_leak(self, world: World):
        body = world.student_body("other_primary")
        await world.admin.ok("POST", "/api/v1/students", 201, json=body)
        again = {**world.student_body("primary"), "id_number": body["id_number"]}
        resp = await world.users["school"].post("/api/v1/students", json=again)
        assert resp.status_code == 409
        assert "existing" not in resp.json()


def _id_with(birth: date) -> str:
    return make_id_number(birth)


BAD_IDS = {
    "check digit": lambda ok: ok[:17] + ("0" if ok[17] != "0" else "1"),
    "17 characters": lambda ok: ok[:17],
    "19 characters": lambda ok: ok + "1",
    "impossible date": lambda ok: _fix(ok[:10] + "0230" + ok[14:17]),
    "future birth": lambda ok: _id_with(local_today() + timedelta(days=30)),
    "unknown province": lambda ok: _fix("99" + ok[2:17]),
    "letters": lambda ok: "61092A" + ok[6:],
}


def _fix(first17: str) -> str:
    from stdnum.cn import ric

    return first17 + ric.calc_check_digit(first17 + "0")


class TestValidation:
    @pytest.mark.parametrize("case", sorted(BAD_IDS))
    async def test_bad_id_number_422_names_field(self, world: World, case: str):
        body = world.student_body()
        body["id_number"] = BAD_IDS[case](body["id_number"])
        resp = await world.admin.post("/api/v1/students", json=body)
        assert resp.status_code == 422, resp.text
        problem = resp.json()
        assert problem["status"] == 422
        assert ["id_number"] in [e["loc"] for e in problem["errors"]]

    async def test_gender_must_agree_with_id(self, world: World):
        body = world.student_body()
        body["gender"] = "female" if int(body["id_number"][16]) % 2 else "male"
        resp = await world.admin.post("/api/v1/students", json=body)
        assert resp.status_code == 422
        assert "gender" in resp.text

    async def test_unknown_school_422(self, world: World):
        body = world.student_body()
        body["enrollment"]["school_code"] = "2161999999"
        resp = await world.admin.post("/api/v1/students", json=body)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["enrollment", "school_code"]

    async def test_stage_not_offered_422(self, world: World):
        body = world.student_body("primary", stage="junior", grade=1)
        resp = await world.admin.post("/api/v1/students", json=body)
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["enrollment", "stage"]

    async def test_nul_byte_in_name_422(self, world: World):
        resp = await world.admin.post("/api/v1/students", json=world.student_body(name="王\x00明"))
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["name"]

    async def test_nul_byte_in_query_422(self, world: World):
        resp = await world.admin.get("/api/v1/students", params={"q": "王\x00"})
        assert resp.status_code == 422

    async def test_huge_limit_and_int_422(self, world: World):
        resp = await world.admin.get("/api/v1/students", params={"limit": str(2**40)})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["limit"]

    async def test_non_ascii_digits_in_codes_422(self, world: World):
        # Codes are ASCII digits: fullwidth or Arabic-Indic digits are refused, not stored.
        for field, value in (("school_code", "６１０９２８０００１"), ("area_code", "٦١٠٩")):
            resp = await world.admin.get("/api/v1/students", params={field: value})
            assert resp.status_code == 422, (field, resp.text)
            assert resp.json()["errors"][0]["loc"] == [field]

    async def test_bad_uuid_in_path_422(self, world: World):
        resp = await world.admin.get(f"/api/v1/students/{2**40}")
        assert resp.status_code == 422

    async def test_formula_name_kept_as_text(self, world: World):
        name = '=HYPERLINK("x")'
        resp = await world.admin.post("/api/v1/students", json=world.student_body(name=name))
        # A name may not be 50+ characters; this one is short and kept verbatim.
        assert resp.status_code == 201, resp.text
        assert resp.json()["name"] == name

    async def test_unusual_age_is_a_warning_not_an_error(self, world: World):
        body = world.student_body(grade=1)
        body["id_number"] = make_id_number(birth_for("primary", 6))  # five years older than usual
        student = await world.admin.ok("POST", "/api/v1/students", 201, json=body)
        assert student["warnings"] and "unusual" in student["warnings"][0]


class TestReadAndList:
    async def test_school_user_reading_other_school_404(self, world: World):
        other = await world.student("other_primary")
        resp = await world.users["school"].get(f"/api/v1/students/{other['id']}")
        assert resp.status_code == 404
        mine = await world.student("primary")
        assert (await world.users["school"].get(f"/api/v1/students/{mine['id']}")).status_code == 200

    async def test_township_sees_only_its_township(self, world: World):
        inside = await world.student("primary")
        outside = await world.student("junior")
        township = world.users["township"]
        assert (await township.get(f"/api/v1/students/{outside['id']}")).status_code == 404
        page = await township.ok("GET", "/api/v1/students", params={"limit": 500})
        ids = {s["id"] for s in page["items"]}
        assert inside["id"] in ids and outside["id"] not in ids

    async def test_list_cursor_walks_every_student_once(self, world: World):
        made = {(await world.student("junior"))["id"] for _ in range(7)}
        seen, cursor = [], None
        while True:
            params = {"limit": 3, "school_code": world.schools["junior"]["code"]}
            if cursor:
                params["cursor"] = cursor
            page = await world.users["county"].ok("GET", "/api/v1/students", params=params)
            seen += [s["id"] for s in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                break
        assert len(seen) == len(set(seen)) == 7
        assert set(seen) == made

    async def test_bad_cursor_422(self, world: World):
        resp = await world.admin.get("/api/v1/students", params={"cursor": "not-a-cursor"})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["cursor"]

    async def test_filter_by_name(self, world: World):
        s = await world.student("primary", name="欧阳测试")
        page = await world.users["county"].ok("GET", "/api/v1/students", params={"q": "欧阳测"})
        assert [x["id"] for x in page["items"]] == [s["id"]]

    async def test_reveal_by_county_only(self, world: World):
        body = world.student_body()
        s = await world.admin.ok("POST", "/api/v1/students", 201, json=body)
        revealed = await world.users["county"].ok(
            "GET", f"/api/v1/students/{s['id']}", params={"reveal": "id_number"}
        )
        assert revealed["id_number"] == body["id_number"]
        assert revealed["student_number"] == "G" + body["id_number"]
        resp = await world.users["township"].get(
            f"/api/v1/students/{s['id']}", params={"reveal": "id_number"}
        )
        assert resp.status_code == 403
