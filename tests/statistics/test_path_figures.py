"""Figures for the whole path (学前到大学), through the gateway on the real stack.

Special-education pupils of grades 1-9 count as compulsory-stage children; 初升高 follows a junior
graduate into a senior school of another county. The figures wait for the read barrier, so no sleep
is needed after a write.
"""

import csv
import io
import secrets

import openpyxl

from services.contracts.calendar import current_semester, school_year_start, today
from tests import conftest
from tests.helpers import Api, World, birth_for, make_id_number
from tests.statistics.verification_helpers import done, findings, platform_client, submit
from tests.subsidy.helpers import make_policy, projected

YEAR = today().year
SEMESTER = str(current_semester())


async def special_school(world: World) -> dict:
    """A 特殊教育学校 (type 51) in the county's first township."""
    return await world.school("51", world.townships[0], ["special", "primary", "junior"], "特殊教育学校")


async def special_pupil(world: World, school: dict, grade: int) -> dict:
    body = world.student_body("primary", grade=min(grade, 6))
    body["id_number"] = make_id_number(birth_for("primary", 1) if grade < 10 else birth_for("senior", 1))
    body["enrollment"] |= {"school_code": school["code"], "stage": "special", "grade": grade}
    return await world.admin.ok("POST", "/api/v1/students", 201, json=body)


class TestSpecialEducationIsCompulsory:
    async def test_enrollment_counts_special_grades_1_to_9_as_compulsory(self, world: World):
        school = await special_school(world)
        await world.student("primary", grade=2)
        await special_pupil(world, school, 4)
        await special_pupil(world, school, 10)  # a special school's senior class: not compulsory
        got = await world.users["county"].ok("GET", "/api/v1/stats/enrollment")
        assert got["students"] == 3
        assert got["compulsory"] == 2
        assert got["by_stage"] == {"primary": 1, "special": 2}
        rows = await _csv(world.users["county"], "/api/v1/stats/enrollment")
        header = rows[0]
        assert "义务教育阶段学生" in header
        assert rows[1][header.index("义务教育阶段学生")] == "2"

    async def test_consolidation_cohort_includes_special_pupils(self, world: World):
        school = await special_school(world)
        await special_pupil(world, school, 3)
        await special_pupil(world, school, 11)
        await world.student("primary", grade=5)
        # Registered now, the pupils are on this school year's compulsory roll and in school (the
        # monitoring rate; issue 14 changed the definition: the roll of the year, not of 1 September).
        county = world.users["county"]
        year = school_year_start(today()).year
        got = await county.ok("GET", "/api/v1/stats/dropout", params={"year": year})
        assert got["consolidation_base"] == 2 and got["consolidation_kept"] == 2
        rates = await county.ok("GET", "/api/v1/stats/rates", params={"year": year})
        assert rates["consolidation_monitoring"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
        # The special grade-3 pupil is of the cohort that finishes grade 9 six years after this one.
        cohort = await county.ok("GET", "/api/v1/stats/rates", params={"year": year + 1 + 6})
        assert cohort["consolidation_cohort"] == {"numerator": 0, "denominator": 1, "rate": 0.0}


class TestProgression:
    async def test_junior_senior_rate_follows_a_graduate_into_another_county(
        self, world: World, api: Api, stack
    ):
        other = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
        senior = await other.school("34", other.townships[0], ["senior"], "高级中学")
        county = world.users["county"]
        goes = await world.student("junior", stage="junior", grade=9)
        stays = await world.student("junior", stage="junior", grade=9)
        late = await world.student("junior", stage="junior", grade=9)
        for s in (goes, stays, late):
            await _change(county, s, "graduate", f"{YEAR}-07-01")
        details = {"school_code": senior["code"], "stage": "senior", "grade": 10}
        await _change(county, goes, "enroll", f"{YEAR}-09-01", details)
        await _change(county, late, "enroll", f"{YEAR}-10-08", details)  # after 30 September: not counted
        got = await county.ok("GET", "/api/v1/stats/rates", params={"year": YEAR})
        assert got["progression_junior_senior"] == {"numerator": 1, "denominator": 3, "rate": 0.3333}
        assert got["year"] == YEAR and got["as_of"]
        # The receiving county has no junior graduates of its own; a year without any is null, not 0.
        theirs = await other.users["county"].ok("GET", "/api/v1/stats/rates", params={"year": YEAR})
        assert theirs["progression_junior_senior"] == {"numerator": 0, "denominator": 0, "rate": None}
        rows = await _csv(county, "/api/v1/stats/rates", year=YEAR)
        assert ["初升高比率", "合计", "1", "3", "0.3333"] in [r[:5] for r in rows]

    async def test_rates_refuse_a_bad_year_and_another_area(self, world: World):
        county = world.users["county"]
        resp = await county.get("/api/v1/stats/rates", params={"year": "x"})
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["year"]
        resp = await county.get("/api/v1/stats/rates", params={"area_code": "610101"})
        assert resp.status_code == 404


class TestLoans:
    async def test_loans_in_the_subsidy_figure_and_its_exports(self, world: World, db):
        county = world.users["county"]
        first, second = await world.student("primary"), await world.student("primary")
        await projected(db, first, second)
        for student, lender, amount in ((first, "国家开发银行", 1600000), (second, "农村信用社", 800000)):
            await county.ok("POST", "/api/v1/subsidy/loans", 201, json={
                "student_id": student["id"], "loan_kind": "origin_credit", "year": YEAR,
                "amount_fen": amount, "lender": lender, "contract_number": f"C{secrets.token_hex(4)}"})
        got = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": YEAR})
        assert got["loans"] == {"count": 2, "amount_fen": 2400000, "by_lender": {
            "农村信用社": {"count": 1, "amount_fen": 800000},
            "国家开发银行": {"count": 1, "amount_fen": 1600000}}}
        assert got["person_times"] == 0  # a loan is not a paid line
        other = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": YEAR - 1})
        assert other["loans"] == {"count": 0, "amount_fen": 0, "by_lender": {}}
        rows = await _csv(county, "/api/v1/stats/subsidy", year=YEAR)
        header = rows[0]
        loan = next(r for r in rows if r[:2] == ["助学贷款", "合计"])
        assert loan[header.index("数量")] == "2" and loan[header.index("金额(元)")] == "24000.00"
        resp = await county.get("/api/v1/stats/subsidy", params={"year": YEAR, "format": "xlsx"})
        sheet = openpyxl.load_workbook(io.BytesIO(resp.content)).active
        assert ["助学贷款/贷款机构", "合计/国家开发银行"] in [[c.value for c in r][:2] for r in sheet.iter_rows()]


class TestHistory:
    async def test_imported_2019_payments_count_in_that_year(self, world: World, db):
        county = world.users["county"]
        body = world.student_body("primary")
        student = await county.ok("POST", "/api/v1/students", 201, json=body)
        await projected(db, student)
        policy = await make_policy(county, years=[2019], boarding_only=False, amount_fen=62500)
        id_number = body["id_number"]
        ledger = (
            "身份证号,学期,政策代码,金额(分),发放日期,学校标识码\n"
            f"{id_number},2019年春季学期,{policy['code']},62500,2019-05-20,{world.schools['primary']['code']}\n"
        )
        done = await county.ok("POST", "/api/v1/subsidy/history-imports", 200,
                               files={"file": ("台账.csv", ledger.encode(), "text/csv")})
        assert done["imported"] == 1, done
        got = await county.ok("GET", "/api/v1/stats/subsidy", params={"year": 2019})
        assert (got["students"], got["person_times"], got["amount_fen"]) == (1, 1, 62500)
        assert got["by_semester"] == {"2019-spring": {"students": 1, "person_times": 1, "amount_fen": 62500}}


class TestAidElsewhere:
    async def test_counts_as_covered_and_is_no_unpaid_finding(self, world: World, api: Api, db):
        county = world.users["county"]
        household = await county.ok("POST", "/api/v1/households", 201, json={
            "head_name": "张大山", "area_code": world.villages[0], "platform_id": f"P{secrets.token_hex(5)}",
            "statuses": [{"kind": "registered_poor", "since": "2020-01-01"}]})
        bodies = [world.student_body("primary", household_id=household["id"]) for _ in range(2)]
        away, here = [await county.ok("POST", "/api/v1/students", 201, json=b) for b in bodies]
        await projected(db, away, here)
        # Eligible means eligible under a policy in force (issue 14): the county's living allowance.
        await make_policy(county, boarding_only=False)
        await county.ok("POST", "/api/v1/subsidy/aid-elsewhere", 201, json={
            "student_id": away["id"], "payer": {"name": "贵州省毕节市七星关区", "code": "520502"},
            "policy_kind": "living_allowance", "semester": SEMESTER, "amount_fen": 62500})
        got = await county.ok("GET", "/api/v1/stats/coverage", params={"semester": SEMESTER})
        assert (got["eligible"], got["paid"], got["paid_elsewhere"], got["unpaid"]) == (2, 0, 1, 1)
        assert got["coverage"] == 0.5
        # 比对: the platform lists both children as poor; only the one covered nowhere is "eligible unpaid".
        platform = await platform_client(api, world.code)
        rows = [{"household_platform_id": household["platform_id"], "name": b["name"],
                 "id_number": b["id_number"], "statuses": ["registered_poor"]} for b in bodies]
        job = await done(platform, await submit(platform, rows=rows))
        assert job["status"] == "done", job
        unpaid = {f["student_id"] for f in await findings(platform, job, kind="unpaid_eligible")}
        assert unpaid == {here["id"]}


async def _change(api: Api, student: dict, kind: str, on: str, details: dict | None = None) -> None:
    body = {"kind": kind, "effective_date": on} | ({"details": details} if details else {})
    await api.ok("POST", f"/api/v1/students/{student['id']}/enrollment-changes", 201, json=body)


async def _csv(api: Api, path: str, **params) -> list[list[str]]:
    resp = await api.get(path, params={**params, "format": "csv"})
    assert resp.status_code == 200, resp.text
    return list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
