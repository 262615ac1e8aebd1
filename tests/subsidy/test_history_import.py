"""Past payments (台账) imported as paid history lines: idempotent, per-row errors, counted, blocking."""

from datetime import date

from services.kit.spreadsheet import write_xlsx
from tests.helpers import World, eventually, make_id_number
from tests.subsidy.helpers import events, make_batch, make_policy, world_projected

URL = "/api/v1/subsidy/history-imports"
HEADER = "id_number,semester,policy_code,amount_yuan,paid_on,school_code\n"


async def registered(world: World) -> tuple[dict, str]:
    """A student registered through the API, and its ID number (what a ledger names it by)."""
    body = world.student_body("primary", groups=["orphan"])
    student = await world.users["county"].ok("POST", "/api/v1/students", 201, json=body)
    return student, body["id_number"]


async def upload(api, content: bytes, name: str = "台账2019.csv"):
    return await api.post(URL, files={"file": (name, content)})


class TestHistoryImport:
    async def test_ledger_rows_become_paid_lines_once_counted_and_blocking(self, world: World, db):
        u = world.users
        student, id_number = await registered(world)
        await world_projected(db, world, student)
        policy = await make_policy(u["county"], years=[2019, 2026], boarding_only=False)
        school = world.schools["primary"]["code"]
        stranger = make_id_number(date(2011, 5, 5))
        csv = (
            HEADER
            + f"{id_number},2019-spring,{policy['code']},625.00,2019-05-20,{school}\n"
            + f"{id_number},2019年秋季学期,{policy['code']},625,2019-11-20,{school}\n"
            + f"{stranger},2019-spring,{policy['code']},625.00,2019-05-20,{school}\n"
            + f"{id_number},2020-spring,{policy['code']},-5,2020-05-20,{school}\n"
        ).encode()
        resp = await upload(u["county"], csv)
        assert resp.status_code == 200, resp.text
        got = resp.json()
        assert (got["rows"], got["imported"], got["unchanged"], got["error_count"]) == (4, 2, 0, 2)
        assert [(e["row"], e["column"]) for e in got["errors"]] == [(4, "id_number"), (5, "amount_yuan")]
        assert stranger not in resp.text and id_number not in resp.text
        lines = (await u["county"].ok("GET", "/api/v1/subsidy/disbursements",
                                      params={"student_id": student["id"]}))["items"]  # fmt: skip
        assert sorted(
            (x["semester"], x["kind"], x["status"], x["amount_fen"], x["paid_on"]) for x in lines
        ) == [
            ("2019-autumn", "history", "paid", 62500, "2019-11-20"),
            ("2019-spring", "history", "paid", 62500, "2019-05-20"),
        ]
        assert len(await events(db, "edu.subsidy.disbursement.paid", lines[0]["id"])) == 1
        # The same file again changes nothing.
        again = (await upload(u["county"], csv)).json()
        assert (again["imported"], again["unchanged"], again["error_count"]) == (0, 2, 2)
        # Imported history blocks a second 2019 line and is in the 2019 figures.
        batch = await make_batch(u["school"], world, policy, semester="2019-spring")
        assert {e["student_id"]: e["reason"] for e in batch["excluded"]}[student["id"]] == "already_paid"

        async def figures():
            got = await u["county"].ok("GET", "/api/v1/stats/subsidy", params={"year": 2019})
            return got if got["amount_fen"] == 125000 else None

        assert (await eventually(figures, timeout=20))["person_times"] == 2

    async def test_xlsx_with_chinese_headers_in_fen(self, world: World, db):
        u = world.users
        student, id_number = await registered(world)
        await world_projected(db, world, student)
        policy = await make_policy(u["county"], years=[2018])
        school = world.schools["primary"]["code"]
        header = ["身份证号", "学期", "政策代码", "金额(分)", "发放日期", "学校标识码"]
        rows = [[id_number, "2018-autumn", policy["code"], "62500", "2018-12-01", school],
                [id_number, "2018-autumn", "NO-SUCH", "62500", "2018-12-01", "21"]]  # fmt: skip
        xlsx = write_xlsx([("台账", header, rows)], text_columns=[0])
        got = (await upload(u["county"], xlsx, "台账.xlsx")).json()
        assert (got["imported"], got["error_count"]) == (1, 1)
        assert got["errors"][0]["column"] in ("学校标识码", "政策代码")

    async def test_who_and_what_is_refused(self, world: World):
        u = world.users
        assert (await upload(u["school"], HEADER.encode())).status_code == 403
        resp = await upload(u["county"], b"name,amount\n", "x.csv")
        assert resp.status_code == 422 and "semester" in resp.text and "file" in resp.text
        assert (await upload(u["county"], b"%PDF-1.4", "ledger.pdf")).status_code == 422
