"""Lists that print and lists that behave (kit.listing), through the gateway on the students list.

format=xlsx|csv parsed back, sort= with keyset paging, count=true, fields=, search by ID number, and a
422 naming any query parameter the list does not take.
"""

import csv
import io

import openpyxl
import pytest

from tests import conftest
from tests.helpers import Api, World

NAMES = ["赵一", "钱二", "孙三", "李四", "周五"]


@pytest.fixture(scope="module")
async def county(api: Api, stack) -> tuple[World, list[dict]]:
    world = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    household = await world.users["county"].ok(
        "POST",
        "/api/v1/households",
        201,
        json={
            "head_name": "孙大",
            "area_code": world.villages[0],
            "platform_id": f"L{world.code}",
            "statuses": [],
        },
    )
    students = []
    for name in NAMES:
        body = world.student_body(
            name=name, **({"household_id": household["id"]} if name == NAMES[2] else {})
        )
        created = await world.users["county"].ok("POST", "/api/v1/students", 201, json=body)
        students.append({**created, "id_number": body["id_number"]})
    return world, students


def rows_of_xlsx(content: bytes) -> list[list]:
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    return [list(row) for row in sheet.iter_rows(values_only=True)]


async def test_students_print_as_xlsx_and_csv(county):
    world, students = county
    user = world.users["county"]
    school = world.schools["primary"]["code"]
    resp = await user.get("/api/v1/students", params={"school_code": school, "format": "xlsx", "limit": 2})
    assert resp.status_code == 200, resp.text
    assert "spreadsheetml" in resp.headers["content-type"]
    assert "attachment" in resp.headers["content-disposition"]
    rows = rows_of_xlsx(resp.content)
    assert rows[0][0] == "筛选条件" and f"学校代码={school}" in rows[0][1]  # the caller's filters, above
    header = rows[1]
    assert "姓名" in header and "身份证号" in header and "资助类别" in header
    body = rows[2:-1]
    assert len(body) == len(students)  # the whole list, not the page of 2
    name_at, id_at = header.index("姓名"), header.index("身份证号")
    assert sorted(r[name_at] for r in body) == sorted(NAMES)
    assert {r[id_at] for r in body} == {s["id_number_masked"] for s in students}
    printed = " ".join(str(cell) for row in rows for cell in row)
    assert not any(s["id_number"] in printed for s in students)  # never the plain number
    assert rows[-1][0] == "合计" and rows[-1][1] == f"{len(students)} 条"

    text = (await user.get("/api/v1/students", params={"school_code": school, "format": "csv"})).content
    assert text.startswith(b"\xef\xbb\xbf")  # Excel opens UTF-8 with a BOM
    table = list(csv.reader(io.StringIO(text.decode("utf-8-sig"))))
    assert table[1] == header and len(table) == len(rows)


async def test_sorted_counted_compact_and_paged(county):
    world, students = county
    user = world.users["county"]
    params = {"school_code": world.schools["primary"]["code"], "sort": "-name", "count": "true", "limit": 2}
    seen, cursor = [], None
    while True:
        page = await user.ok(
            "GET", "/api/v1/students", params={**params, **({"cursor": cursor} if cursor else {})}
        )
        assert page["total"] == len(students)
        seen += [s["name"] for s in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted(NAMES, reverse=True)  # descending over three pages, nothing twice
    compact = await user.ok("GET", "/api/v1/students", params={**params, "fields": "id,name"})
    assert all(set(item) == {"id", "name"} for item in compact["items"])
    plain = await user.ok("GET", "/api/v1/students", params={"school_code": params["school_code"]})
    assert plain["total"] is None and len(plain["items"]) == len(students)


async def test_found_by_id_number(county):
    world, students = county
    wanted = students[2]
    for spelled in (wanted["id_number"], wanted["id_number"].lower()):
        page = await world.users["county"].ok("GET", "/api/v1/students", params={"id_number": spelled})
        assert [s["id"] for s in page["items"]] == [wanted["id"]]
    homes = await world.users["county"].ok(
        "GET", "/api/v1/households", params={"id_number": wanted["id_number"]}
    )
    assert [h["id"] for h in homes["items"]] == [wanted["household_id"]]
    other = await world.users["school"].ok(
        "GET", "/api/v1/students", params={"id_number": "110101199001011237"}
    )
    assert other["items"] == []


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"no_such_filter": "1"}, "no_such_filter"),
        ({"id": "x"}, "id"),
        ({"sort": "shoe_size"}, "sort"),
        ({"sort": "categories"}, "sort"),  # an item field, but not one to order by
        ({"fields": "name,secret"}, "fields"),
        ({"format": "pdf"}, "format"),
    ],
)
async def test_refused_parameters_name_themselves(county, params, field):
    world, _ = county
    resp = await world.users["county"].get("/api/v1/students", params=params)
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    assert field in [e["loc"][-1] for e in resp.json()["errors"]]


async def test_every_service_lists_refuse_unknown_parameters(county):
    world, _ = county
    user = world.users["county"]
    for path in ("/api/v1/households", "/api/v1/subsidy/batches", "/api/v1/dropout/cases", "/api/v1/schools"):
        resp = await user.get(path, params={"no_such_filter": "1"})
        assert resp.status_code == 422, (path, resp.status_code, resp.text)
        counted = await user.get(path, params={"count": "true"})
        assert counted.status_code == 200 and isinstance(counted.json()["total"], int), (path, counted.text)
