"""The papers a batch is printed on: the 发放花名册 and the 公示名单 (batches.printing), parsed back."""

import csv
import io
import re

import asyncpg
import openpyxl
import pytest

from tests import conftest
from tests.helpers import Api, World
from tests.subsidy.helpers import PAST, add_student, approve_and_pay, make_batch, make_policy, world_projected

ID_NUMBER = re.compile(r"[0-9]{6}[0-9*]{8}[0-9]{3}[0-9Xx*]")  # as the shared check: full or masked


@pytest.fixture(scope="module")
async def paid(api: Api, stack, owner_url) -> tuple[World, dict, list[dict]]:
    world = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    household = await world.users["county"].ok(
        "POST",
        "/api/v1/households",
        201,
        json={
            "head_name": "王大山",
            "area_code": world.villages[0],
            "platform_id": f"PR{world.code}",
            "statuses": [],
        },
    )
    students = [await add_student(world, household_id=household["id"]) for _ in range(3)]
    db = await asyncpg.connect(owner_url)
    try:
        await world_projected(db, world, *students)
    finally:
        await db.close()
    policy = await make_policy(world.users["county"], amount_fen=62550)
    batch = await make_batch(world.users["school"], world, policy)
    batch = await approve_and_pay(world, batch)
    assert batch["status"] == "paid" and batch["line_count"] == 3
    return world, batch, students


def sheet(content: bytes) -> list[list]:
    return [list(r) for r in openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


async def test_roster_lists_every_line_and_sums_to_the_batch(paid):
    world, batch, students = paid
    url = f"/api/v1/subsidy/batches/{batch['id']}/roster"
    data = await world.users["county"].ok("GET", url)
    assert data["total_fen"] == batch["total_fen"] == 3 * 62550 and data["line_count"] == 3
    assert {line["student_id"] for line in data["lines"]} == {s["id"] for s in students}

    resp = await world.users["school"].get(url, params={"format": "xlsx"})
    assert resp.status_code == 200 and "spreadsheetml" in resp.headers["content-type"]
    rows = sheet(resp.content)
    header_at = next(i for i, r in enumerate(rows) if r[0] == "序号")
    header = rows[header_at]
    assert header[-1] == "领取人签字" and "身份证号" in header and "金额(元)" in header
    lines = [r for r in rows[header_at + 1 :] if isinstance(r[0], int)]
    assert [r[0] for r in lines] == [1, 2, 3]
    amount, id_at, name_at = header.index("金额(元)"), header.index("身份证号"), header.index("姓名")
    assert sorted(r[name_at] for r in lines) == sorted(s["name"] for s in students)
    assert {r[id_at] for r in lines} == {s["id_number_masked"] for s in students}  # masked on the roster
    assert all(r[header.index("身份")] == "学生" for r in lines)
    total = next(r for r in rows if r[0] == "合计")
    assert round(sum(r[amount] for r in lines) * 100) == batch["total_fen"] == round(total[amount] * 100)

    text = (await world.users["county"].get(url, params={"format": "csv"})).content.decode("utf-8-sig")
    table = list(csv.reader(io.StringIO(text)))
    assert next(r for r in table if r and r[0] == "合计")[amount] == "1876.5"


async def test_publicity_has_no_id_number_in_any_form(paid):
    world, batch, students = paid
    url = f"/api/v1/subsidy/batches/{batch['id']}/publicity"
    for kind in ("xlsx", "csv"):
        resp = await world.users["county"].get(url, params={"format": kind})
        assert resp.status_code == 200, resp.text
        rows = (
            sheet(resp.content)
            if kind == "xlsx"
            else list(csv.reader(io.StringIO(resp.text.lstrip("\ufeff"))))
        )
        text = "\n".join(" ".join(str(c) for c in r if c not in (None, "")) for r in rows)
        assert not ID_NUMBER.search(text) and "****" not in text
        assert text.count("学生") >= len(students) and "资助类别" not in text
        assert not any(s["name"] in text for s in students if len(s["name"]) > 1)  # names masked
        assert "1876.5" in text  # the total, in 元
    assert "lines" in (await world.users["county"].ok("GET", url))  # JSON stays the default


async def test_village_cannot_print_the_roster(paid):
    world, batch, _ = paid
    resp = await world.users["village"].get(f"/api/v1/subsidy/batches/{batch['id']}/roster")
    assert resp.status_code in (403, 404)


async def test_bulk_notices_one_page_per_child(paid):
    world, batch, students = paid
    for params in (
        {"school_code": world.schools["primary"]["code"], "semester": PAST},
        {"batch_id": batch["id"]},
    ):
        resp = await world.users["school"].get("/api/v1/subsidy/notices", params={**params, "format": "html"})
        assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/html")
        page = resp.text
        assert page.count('<section class="page">') == len(students) and "break-after: page" in page
        assert all(page.count(s["name"]) == 1 for s in students) and page.count("625.50") >= len(students)
    book = await world.users["village"].ok(
        "GET", "/api/v1/subsidy/notices", params={"village_code": world.villages[0], "semester": PAST}
    )
    assert book["count"] == len(students) and {n["student_id"] for n in book["items"]} == {
        s["id"] for s in students
    }
    refused = await world.users["county"].get("/api/v1/subsidy/notices", params={"semester": PAST})
    assert refused.status_code == 422


async def test_village_ledger_by_home_village(paid):
    world, _, students = paid
    params = {"village_code": world.villages[0], "year": PAST[:4]}
    ledger = await world.users["village"].ok(
        "GET", "/api/v1/stats/ledger", params={**params, "count": "true"}
    )
    assert ledger["total"] == len(students)
    rows = {r["student_id"]: r for r in ledger["items"]}
    assert set(rows) == {s["id"] for s in students}
    for row in rows.values():
        assert row["aid_fen"] == 62550 and row["aid_count"] == 1 and row["categories"] == ["orphan"]
        assert row["head_name"] == "王大山" and row["case_status"] is None
    resp = await world.users["county"].get("/api/v1/stats/ledger", params={**params, "format": "xlsx"})
    assert resp.status_code == 200, resp.text
    table = sheet(resp.content)
    header = table[1]
    assert "本年受助金额(元)" in header and "资助类别" in header and "户主姓名" in header
    total = table[-1]
    assert total[0] == "合计" and total[header.index("本年受助金额(元)")] == 3 * 625.5
    other = await world.users["village"].get(
        "/api/v1/stats/ledger", params={"village_code": world.villages[2]}
    )
    assert other.status_code == 404
