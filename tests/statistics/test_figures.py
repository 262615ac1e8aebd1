"""Figures built from registry events: enrollment now and by semester, scope, exports, rebuild."""

import csv
import io
from datetime import date

import openpyxl

from services.contracts.calendar import today as local_today
from tests.helpers import Api, World, eventually


async def _settled(api: Api, path: str, check, **params) -> dict:
    async def probe():
        got = await api.ok("GET", path, params=params)
        return got if check(got) else None

    return await eventually(probe, timeout=10)


def _semester(d: date) -> str:
    return f"{d.year}-{'spring' if 2 <= d.month <= 7 else 'autumn'}"


class TestEnrollmentFigures:
    async def test_by_stage_category_and_status(self, world: World):
        county = world.users["county"]
        hh = await county.ok(
            "POST",
            "/api/v1/households",
            201,
            json={
                "head_name": "李大山",
                "area_code": world.villages[0],
                "statuses": [{"kind": "dibao", "since": "2025-01-01"}],
            },
        )
        await world.student("primary", household_id=hh["id"], grade=2)
        await world.student("primary", groups=["orphan"], grade=4)
        s3 = await world.student("junior", stage="junior", grade=1)
        await world.student("junior", stage="primary", grade=6)
        # A suspended student is not counted; a home-taught one is.
        url = f"/api/v1/students/{s3['id']}/enrollment-changes"
        await county.ok(
            "POST", url, 201, json={"kind": "suspend", "effective_date": local_today().isoformat()}
        )
        got = await _settled(
            county,
            "/api/v1/stats/enrollment",
            lambda g: g["by_stage"] == {"primary": 3} and len(g["by_category"]) == 2,
        )
        assert got["by_stage"] == {"primary": 3}
        assert got["by_category"] == {"dibao": 1, "orphan": 1}
        township = world.users["township"]
        mine = await _settled(township, "/api/v1/stats/enrollment", lambda g: g["students"] == 2)
        assert mine["area_code"] == world.townships[0]
        school = await world.users["school"].ok("GET", "/api/v1/stats/enrollment")
        assert school["students"] == 2
        village = await world.users["village"].ok("GET", "/api/v1/stats/enrollment")
        assert village["students"] == 1  # only the child whose household lives in the village

    async def test_past_semester_counts_what_was_enrolled_then(self, world: World):
        county = world.users["county"]
        await world.student("primary")
        await _settled(county, "/api/v1/stats/enrollment", lambda g: g["students"] == 1)
        # Registered today: not yet enrolled on last year's census days.
        last_year = await county.ok(
            "GET", "/api/v1/stats/enrollment", params={"semester": f"{local_today().year - 1}-autumn"}
        )
        assert last_year["students"] == 0

    async def test_school_user_cannot_ask_for_another_school(self, world: World):
        resp = await world.users["school"].get(
            "/api/v1/stats/enrollment", params={"school_code": world.schools["junior"]["code"]}
        )
        assert resp.status_code == 404

    async def test_bad_semester_422(self, world: World):
        resp = await world.users["county"].get("/api/v1/stats/enrollment", params={"semester": "2026-summer"})
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["semester"]


class TestExports:
    async def test_csv_and_xlsx_with_chinese_headers_and_safe_cells(self, world: World):
        county = world.users["county"]
        await world.student("primary", groups=["left_behind"])
        await _settled(county, "/api/v1/stats/enrollment", lambda g: g["students"] == 1)
        resp = await county.get("/api/v1/stats/enrollment", params={"format": "csv"})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/csv")
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert rows[0][:2] == ["分组", "项目"]
        assert ["学段", "小学", "1"] in [r[:3] for r in rows]
        resp = await county.get("/api/v1/stats/enrollment", params={"format": "xlsx"})
        assert resp.status_code == 200
        sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
        values = [[c.value for c in row] for row in sheet.iter_rows()]
        assert values[0][:2] == ["分组", "项目"]
        assert any(r[:2] == ["学段", "小学"] for r in values)

    async def test_subsidy_export_has_yuan_beside_fen(self, world: World):
        resp = await world.users["county"].get(
            "/api/v1/stats/subsidy", params={"format": "csv", "year": 2026}
        )
        header = next(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        assert "金额(分)" in header and header[header.index("金额(分)") + 1] == "金额(元)"


class TestRebuild:
    async def test_rebuild_gives_identical_figures(self, world: World, api: Api):
        for grade in (1, 2, 3):
            await world.student("primary", grade=grade)
        county = world.users["county"]
        before = await _settled(county, "/api/v1/stats/enrollment", lambda g: g["students"] == 3)
        assert (await county.post("/api/v1/stats/rebuild")).status_code == 403
        started = await api.ok("POST", "/api/v1/stats/rebuild", 202)
        assert started["status"] == "replaying"

        async def caught_up():
            resp = await api.get("/api/v1/stats/rebuild")
            return (
                resp.status_code == 200 and resp.json()["pending"] == 0 and resp.json()["unacknowledged"] == 0
            )

        await eventually(caught_up, timeout=60, interval=0.3)
        after = await _settled(county, "/api/v1/stats/enrollment", lambda g: g["students"] == 3)
        assert after == before
