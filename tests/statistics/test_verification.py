"""Platform roster verification (比对) through the gateway, on the real stack.

One county is built once for the module through the public API (households, students,
enrollment changes, subsidy policies and batches paid through the real workflow); its roster
(verification_helpers.roster_rows) has a child for every finding kind, and EXPECTED says by hand
which child each kind must name. Only the two-counties duplicate is set up by inserting payment
facts directly (one deployment's API cannot pay in two counties of a test).
"""

import json
import secrets
import uuid
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import pytest

from services.contracts.calendar import today as local_today
from services.kit.crypto import mask_id_number
from services.kit.settings import Settings
from services.kit.spreadsheet import read_table
from services.statistics.verification.columns import JSON_LAYOUT, Layout
from services.statistics.verification.prepare import csv_spans, prepare, prepare_range
from services.statistics.verification.runner import CHUNK, Source, VerificationRunner
from tests.helpers import Api, World, eventually, make_id_number
from tests.statistics.verification_helpers import (
    SEMESTER,
    Scenario,
    as_csv,
    as_xlsx,
    born,
    build,
    done,
    findings,
    platform_client,
    submit,
    wait_facts,
)

KINDS = [
    "duplicate_payment",
    "identity_mismatch",
    "missing_in_registry",
    "not_in_school",
    "out_of_county_incomplete",
    "paid_ineligible",
    "paid_not_enrolled",
    "unknown_to_platform",
    "unpaid_eligible",
]
# Which child each kind names: a registry student's key, or the roster name of a child the registry lacks.
EXPECTED = {
    "identity_mismatch": {"B", "M", "N"},
    "unpaid_eligible": {"C"},
    "duplicate_payment": {"D"},
    "paid_ineligible": {"E"},
    "paid_not_enrolled": {"F"},
    "out_of_county_incomplete": {"K"},
    "unknown_to_platform": {"G"},
    "missing_in_registry": {"赵六", "钱七"},
    "not_in_school": {"F", "Q", "赵六"},
}
PAID_LINES = 6  # LA1: A, B, D; LA2: D; grant: E, F
KEY = b"k" * 32


@pytest.fixture(scope="module")
async def county(api: Api, stack, owner_url) -> Scenario:
    world = await World.create(api, code=f"617{secrets.randbelow(1000):03d}", stack=stack)
    conn = await asyncpg.connect(owner_url)
    try:
        s = await build(world, conn)
        await wait_facts(conn, s, payments=PAID_LINES)
    finally:
        await conn.close()
    s.other_platform = await platform_client(api, f"617{secrets.randbelow(1000):03d}")
    return s


@pytest.fixture(scope="module")
async def first(county: Scenario) -> dict:
    """The roster submitted as JSON by the county's platform client, compared."""
    job = await submit(county.platform, rows=county.rows)
    assert job["status"] == "queued" and job["semester"] == SEMESTER and job["area_code"] == county.world.code
    return await done(county.platform, job)


def label(s: Scenario, finding: dict) -> str:
    keys = {st["id"]: key for key, st in s.students.items()}
    return keys.get(finding["student_id"]) or finding["details"]["name"]


def comparable(items: list[dict]) -> list[str]:
    """Findings without ids, row numbers or times: what must repeat on an identical roster."""
    return sorted(json.dumps([f["kind"], f["student_id"], f["details"]], sort_keys=True) for f in items)


class TestSubmit:
    async def test_summary_counts_and_row_errors(self, county: Scenario, first: dict):
        assert first["status"] == "done", first
        assert first["summary"] == {kind: len(EXPECTED[kind]) for kind in KINDS}
        assert first["total"] == len(county.rows) == 15 and first["rows_compared"] == 13
        assert first["error_count"] == 2
        assert [(e["row"], e["field"]) for e in first["errors"]] == [(14, "id_number"), (15, "id_number")]
        assert "check digit" in first["errors"][0]["msg"] and "earlier row" in first["errors"][1]["msg"]
        assert first["submitted_by"] == county.platform.username and first["finished_at"]
        assert first["roster_version"] >= 1 and first["created_at"]

    async def test_roster_rows_kept(self, first: dict, db):
        rows = await db.fetch(
            "SELECT row_number, id_number_masked FROM statistics.roster_row WHERE verification_id = $1 "
            "ORDER BY row_number",
            uuid.UUID(first["id"]),
        )
        assert [r["row_number"] for r in rows] == list(range(1, 14))
        assert all("********" in r["id_number_masked"] for r in rows)

    @pytest.mark.parametrize("kind", KINDS)
    async def test_each_kind_names_the_expected_children(self, county: Scenario, first: dict, kind: str):
        got = await findings(county.platform, first, kind=kind)
        assert {label(county, f) for f in got} == EXPECTED[kind]
        for f in got:
            assert f["verification_id"] == first["id"] and f["roster_version"] == first["roster_version"]
            assert f["resolution"] is None and f["kind"] == kind

    async def test_identity_mismatch_details(self, county: Scenario, first: dict):
        got = {label(county, f): f for f in await findings(county.platform, first, kind="identity_mismatch")}
        b, m, n = got["B"]["details"], got["M"]["details"], got["N"]["details"]
        assert b["match"] == "id_number" and b["fields"] == ["name"] and b["similarity"] == 0.95
        assert b["roster"]["name"] == "王小明" and b["registry"]["name"] == "王晓明"
        assert m["match"] == "household" and m["fields"] == ["id_number", "name"] and m["similarity"] == 0.95
        assert m["registry"]["id_number_masked"] == county.students["M"]["id_number_masked"]
        assert (
            n["match"] == "birth_date" and n["roster"]["name"] == "张伟" and n["registry"]["name"] == "张玮"
        )
        assert got["M"]["student_id"] == county.sid("M") and got["N"]["row"] == 8

    async def test_other_kinds_details(self, county: Scenario, first: dict):
        by = {}
        for f in await findings(county.platform, first):
            by.setdefault(f["kind"], {})[label(county, f)] = f
        dup = by["duplicate_payment"]["D"]["details"]
        assert dup["reasons"] == ["same_policy_kind"] and dup["policy_kinds"] == ["living_allowance"]
        assert len(dup["payments"]) == 2 and dup["counties"] == [county.world.code]
        assert by["out_of_county_incomplete"]["K"]["details"]["missing"] == ["county", "school_name"]
        assert by["out_of_county_incomplete"]["K"]["details"]["known"] == {"province": "广东省"}
        assert by["paid_not_enrolled"]["F"]["details"]["status"] == "suspended"
        assert by["paid_ineligible"]["E"]["details"]["policy_kind"] == "grant"
        assert by["paid_ineligible"]["E"]["details"]["in_roster"] is False
        assert by["unknown_to_platform"]["G"]["details"]["categories"] == ["tekun"]
        assert by["unknown_to_platform"]["G"]["household_platform_id"] == county.pid("H5")
        assert by["unpaid_eligible"]["C"]["details"]["roster_statuses"] == ["dibao"]
        missing = by["missing_in_registry"]["赵六"]
        assert missing["student_id"] is None and missing["details"]["age"] == 8
        assert missing["area_code"] == county.world.villages[0]  # the household's village
        assert by["not_in_school"]["Q"]["details"]["registry_status"] == "dropped_out"
        assert by["not_in_school"]["赵六"]["details"]["registry_status"] is None

    async def test_no_full_id_number_anywhere(self, county: Scenario, first: dict):
        text = json.dumps(await findings(county.platform, first), ensure_ascii=False)
        for r in county.rows:
            assert r["id_number"] not in text
        assert mask_id_number(county.rows[9]["id_number"]) in text

    async def test_same_roster_again_same_findings_next_version(self, county: Scenario, first: dict):
        again = await done(county.platform, await submit(county.platform, rows=county.rows))
        assert again["roster_version"] > first["roster_version"] and again["summary"] == first["summary"]
        assert comparable(await findings(county.platform, again)) == comparable(
            await findings(county.platform, first)
        )

    @pytest.mark.parametrize("kind", ["csv", "xlsx"])
    async def test_files_give_the_same_findings(self, county: Scenario, first: dict, kind: str):
        content = as_csv(county.rows) if kind == "csv" else as_xlsx(county.rows)
        job = await done(county.world.users["county"], await submit(
            county.world.users["county"], file=(f"名单.{kind}", content)))  # fmt: skip
        assert job["status"] == "done" and job["source"] == kind and job["summary"] == first["summary"]
        assert [e["row"] for e in job["errors"]] == [15, 16]  # the header is row 1
        assert comparable(await findings(county.platform, job)) == comparable(
            await findings(county.platform, first)
        )

    async def test_unknown_status_in_a_file_is_a_row_error(self, county: Scenario):
        content = (
            "户编号,姓名,身份证号,户状态\n" + f"{county.pid('H1')},周一,{county.rows[0]['id_number']},富裕\n"
        )
        job = await done(county.platform, await submit(county.platform, file=("r.csv", content.encode())))
        assert job["status"] == "failed" and "No valid row" in job["detail"]
        assert [(e["row"], e["field"]) for e in job["errors"]] == [(2, "statuses")] and job["total"] == 1

    async def test_bad_input_422(self, county: Scenario):
        p = county.platform
        cases = [
            ({"json": {"rows": county.rows[:1]}}, ["semester"]),
            ({"json": {"semester": "2026-summer", "rows": county.rows[:1]}}, ["semester"]),
            ({"json": {"semester": SEMESTER, "rows": []}}, ["rows"]),
            ({"json": {"semester": SEMESTER, "rows": [{**county.rows[0], "statuses": ["rich"]}]}},
             ["rows", 0, "statuses", 0]),
            ({"json": {"semester": SEMESTER, "rows": county.rows[:1], "area_code": "629999"}}, ["area_code"]),
            ({"files": {"file": ("r.pdf", b"x")}, "data": {"semester": SEMESTER}}, ["file"]),
            ({"files": {"file": ("r.csv", "姓名,身份证号\n张三,1\n".encode())}, "data": {"semester": SEMESTER}},
             ["file"]),
            ({"files": {"file": ("r.csv", b"a")}, "data": {}}, ["semester"]),
            ({"data": {"semester": SEMESTER}, "files": {"other": ("r.csv", b"a")}}, ["file"]),
        ]  # fmt: skip
        for kw, loc in cases:
            resp = await p.post("/api/v1/verifications", **kw)
            assert resp.status_code == 422, (kw, resp.text)
            assert resp.json()["errors"][0]["loc"][: len(loc)] == loc, resp.text

    async def test_roles(self, county: Scenario, first: dict):
        u = county.world.users
        for role in ("school", "village"):
            assert (await u[role].post("/api/v1/verifications", json={"semester": SEMESTER, "rows": county.rows}
                                       )).status_code == 403  # fmt: skip
            assert (await u[role].get(f"/api/v1/verifications/{first['id']}")).status_code == 403
        assert (await u["township"].post(
            "/api/v1/verifications", json={"semester": SEMESTER, "rows": county.rows})).status_code == 403  # fmt: skip


class TestRead:
    async def test_other_county_platform_gets_404(self, county: Scenario, first: dict):
        other = county.other_platform
        for path in (f"/api/v1/verifications/{first['id']}", f"/api/v1/verifications/{first['id']}/findings"):
            assert (await other.get(path)).status_code == 404
        assert (await other.get(f"/api/v1/verifications/{uuid.uuid4()}")).status_code == 404
        listed = await other.ok("GET", "/api/v1/verifications")
        assert first["id"] not in {j["id"] for j in listed["items"]}
        mine = await county.platform.ok("GET", "/api/v1/verifications", params={"semester": SEMESTER})
        assert first["id"] in {j["id"] for j in mine["items"]}

    async def test_township_sees_its_own_area(self, county: Scenario, first: dict):
        township = county.world.users["township"]  # township 0: villages 0 and 1
        job = await township.ok("GET", f"/api/v1/verifications/{first['id']}")
        got = await findings(township, first)
        assert got and all(f["area_code"].startswith(county.world.townships[0]) for f in got)
        assert sum(job["summary"].values()) == len(got) < sum(first["summary"].values())
        assert "F" not in {label(county, f) for f in got}  # F's household is in township 1

    async def test_pages_and_filters(self, county: Scenario, first: dict):
        page = await county.platform.ok(
            "GET", f"/api/v1/verifications/{first['id']}/findings", params={"limit": 4}
        )
        assert len(page["items"]) == 4 and page["next_cursor"]
        rest = await findings(county.platform, first)
        assert [f["id"] for f in rest[:4]] == [f["id"] for f in page["items"]]
        only_d = await findings(county.platform, first, student_id=county.sid("D"))
        assert {f["kind"] for f in only_d} == {"duplicate_payment"}
        bad = await county.platform.get(f"/api/v1/verifications/{first['id']}/findings", params={"kind": "x"})
        assert bad.status_code == 422


class TestResolve:
    async def test_county_resolves_once(self, county: Scenario, first: dict):
        (f,) = await findings(county.platform, first, kind="unpaid_eligible")
        path = f"/api/v1/verifications/{first['id']}/findings/{f['id']}/resolve"
        cnt = county.world.users["county"]
        assert (await county.platform.post(path, json={"note": "x"})).status_code == 403
        assert (await county.world.users["township"].post(path, json={"note": "x"})).status_code == 403
        assert (await cnt.post(path, json={})).status_code == 422
        got = await cnt.ok("POST", path, json={"note": "已补发"})
        assert got["resolution"]["note"] == "已补发" and got["resolution"]["actor"] == cnt.username
        assert got["resolution"]["at"] and got["version"] == 2
        assert (await cnt.post(path, json={"note": "again"})).status_code == 409
        listed = await findings(county.platform, first, kind="unpaid_eligible", resolved=True)
        assert [x["id"] for x in listed] == [f["id"]]
        missing = f"/api/v1/verifications/{first['id']}/findings/999999999/resolve"
        assert (await cnt.post(missing, json={"note": "x"})).status_code == 404


class TestNotInSchoolEvent:
    async def test_event_in_the_outbox(self, county: Scenario, first: dict, db):
        rows = await db.fetch(
            "SELECT subject, payload FROM statistics.outbox WHERE type = 'edu.statistics.child.not_in_school' "
            "AND payload->'data'->>'verification_id' = $1",
            first["id"],
        )
        events = {json.loads(r["payload"])["data"]["name"]: json.loads(r["payload"]) for r in rows}
        assert set(events) == {"陈六", "蒋九", "赵六"}
        e = events["赵六"]
        row = county.rows[9]
        assert e["source"] == "statistics" and e["area_code"] == county.world.villages[0]
        d = e["data"]
        assert d["household_platform_id"] == row["household_platform_id"] and d["student_id"] is None
        assert d["id_number_masked"] == mask_id_number(row["id_number"]) and len(d["id_number_hash"]) == 64
        assert d["birth_date"] == born(8).isoformat() and d["roster_version"] == first["roster_version"]
        assert row["id_number"] not in json.dumps(e)
        assert events["蒋九"]["data"]["student_id"] == county.sid("Q")

    async def test_event_published(self, county: Scenario, first: dict, db):
        async def published():
            return await db.fetchval(
                "SELECT bool_and(published_at IS NOT NULL) FROM statistics.outbox "
                "WHERE payload->'data'->>'verification_id' = $1",
                first["id"],
            )

        await eventually(published, timeout=10)


class TestHouseholdEducation:
    async def test_children_and_aid_this_semester(self, county: Scenario, first: dict):
        path = f"/api/v1/verifications/households/{county.pid('H2')}"
        got = await county.platform.ok("GET", path, params={"semester": SEMESTER})
        kids = {c["student_id"]: c for c in got["children"]}
        assert set(kids) == {county.sid(k) for k in ("C", "D", "M", "Q")}
        d = kids[county.sid("D")]
        assert len(d["paid"]) == 2 and d["paid_fen"] == 2 * 62500 and d["status"] == "enrolled"
        assert kids[county.sid("Q")]["status"] == "dropped_out" and kids[county.sid("C")]["paid"] == []
        assert "*" in d["id_number_masked"] and got["area_code"] == county.world.villages[0]
        assert (await county.other_platform.get(path)).status_code == 404
        assert (await county.world.users["school"].get(path)).status_code == 403
        assert (await county.platform.get("/api/v1/verifications/households/nope")).status_code == 404


class TestTwoCounties:
    async def test_paid_in_two_counties_is_a_duplicate(self, world: World, db):
        """Payment facts inserted directly as the owner: one student paid by schools of two counties."""
        county = world.users["county"]
        hh = await county.ok("POST", "/api/v1/households", 201, json={
            "head_name": "户主", "area_code": world.villages[0], "platform_id": f"P{world.code}X",
            "statuses": [{"kind": "dibao", "since": "2020-01-01"}]})  # fmt: skip
        body = world.student_body("primary", household_id=hh["id"], name="韩十")
        st = await county.ok("POST", "/api/v1/students", 201, json=body)

        async def projected():
            return await db.fetchval(
                "SELECT count(*) FROM statistics.student_fact WHERE student_id = $1", uuid.UUID(st["id"])
            )

        await eventually(projected)
        for area, kind in ((world.townships[0], "living_allowance"), ("619901100", "waiver")):
            await db.execute(
                "INSERT INTO statistics.payment_fact (disbursement_id, student_id, policy_code, policy_kind, "
                "semester, year, amount_fen, school_code, area_code, categories, status, version) "
                "VALUES ($1, $2, $3, $4, $5, $6, 50000, '2161999999', $7, '{dibao}', 'paid', 1)",
                uuid.uuid4(), uuid.UUID(st["id"]), f"P-{kind}", kind, SEMESTER, int(SEMESTER[:4]), area,
            )  # fmt: skip
        platform = await platform_client(world.admin, world.code)
        rows = [{"household_platform_id": f"P{world.code}X", "name": "韩十", "id_number": body["id_number"],
                 "statuses": ["dibao"]}]  # fmt: skip
        job = await done(platform, await submit(platform, rows=rows))
        (dup,) = await findings(platform, job, kind="duplicate_payment")
        assert dup["details"]["reasons"] == ["two_counties"]
        assert dup["details"]["counties"] == sorted(["619901", world.code]) and dup["student_id"] == st["id"]


class TestPreparation:
    """Rows are prepared in chunks and byte ranges exactly as one pass over the file would (no stack)."""

    @staticmethod
    def _roster(n: int) -> list[list[str]]:
        return [[f"H{i // 3}", f"王{i}", make_id_number(born(5 + i % 10)), "dibao", ""] for i in range(n)]

    def test_csv_ranges_equal_one_pass(self, tmp_path):
        rows = self._roster(3000)
        text = "户编号,姓名,身份证号,户状态\r\n" + "".join(f"{r[0]},{r[1]},{r[2]},{r[3]}\r\n" for r in rows)
        text = text.replace("\r\nH10,", "\r\n\r\n,,,\r\nH10,", 1)  # blank rows keep their numbers
        path = tmp_path / "r.csv"
        path.write_bytes(text.encode())
        with read_table(path, "r.csv") as table:
            layout = Layout.of(table.header)
            whole = prepare(KEY, layout, list(table.rows), local_today())
        spans = csv_spans(path.read_bytes(), 10_000)
        assert spans is not None and len(spans) > 5
        parts = [prepare_range(KEY, layout, str(path), span, "utf-8-sig", local_today()) for span in spans]
        assert b"".join(p.data for p in parts) == whole.data and sum(len(p.rows) for p in parts) == 3000
        assert [n for p in parts for n in p.rows] == list(whole.rows)
        assert csv_spans(b'a,b\n"x\ny",1\n', 10) is None  # a quoted field may span lines: read in one pass

    async def test_chunks_in_order_through_an_executor(self, tmp_path):
        runner = VerificationRunner(None, Settings(data_dir=tmp_path))
        runner._key, runner._executor = KEY, ThreadPoolExecutor(2)
        rows = self._roster(CHUNK * 2 + 5)
        rows[7][2] = "bad"
        got = [p async for p in runner._chunks(Source(layout=JSON_LAYOUT, rows=rows))]
        whole = prepare(KEY, JSON_LAYOUT, list(enumerate(rows, start=1)), local_today())
        assert [p.count for p in got] == [CHUNK, CHUNK, 5]
        assert b"".join(p.data for p in got) == whole.data and got[0].errors == [
            {"row": 8, "field": "id_number", "msg": "must be 18 characters, got 3"}
        ]
        runner._executor.shutdown()
