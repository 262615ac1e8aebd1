"""A county built through the public API for verification tests, and its platform roster.

Every finding kind has its child here, and the expected findings are written out by hand
(see `EXPECTED`): registry students, households with platform ids, payments through the real
subsidy workflow, and a roster with deliberate errors.
"""

import csv
import io
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from services.contracts.calendar import today as local_today
from services.kit.spreadsheet import write_xlsx
from services.statistics.figures.routes import current_semester
from tests.helpers import Api, World, birth_for, eventually, make_id_number

SEMESTER = current_semester()
YEAR = int(SEMESTER[:4])
SEMESTER_START = date(YEAR, 2, 1) if SEMESTER.endswith("spring") else date(YEAR, 8, 1)
TODAY = local_today()
POSTED = (TODAY - timedelta(days=5)).isoformat()
SCHOOL_YEAR = date(YEAR if SEMESTER.endswith("autumn") else YEAR - 1, 9, 1)
HEADER = ["户编号", "姓名", "身份证号", "户状态"]


def born(age: int) -> date:
    """A birth date giving this age on 1 September of the semester's school year."""
    return date(SCHOOL_YEAR.year - age, 3, 15)


@dataclass
class Scenario:
    world: World
    households: dict[str, dict] = field(default_factory=dict)  # key -> household (platform_id inside)
    students: dict[str, dict] = field(default_factory=dict)  # key -> registry student
    rows: list[dict] = field(default_factory=list)  # the roster (JSON rows), valid and invalid
    platform: Api | None = None
    other_platform: Api | None = None
    users: dict[str, Api] = field(default_factory=dict)

    def pid(self, key: str) -> str:
        return self.households[key]["platform_id"]

    def sid(self, key: str) -> str:
        return self.students[key]["id"]


async def platform_client(admin: Api, area_code: str) -> Api:
    """A platform client of an area (POST /api/v1/clients) with a client_credentials token."""
    made = await admin.ok(
        "POST", "/api/v1/clients", 201, json={"name": f"平台{area_code}", "area_code": area_code}
    )
    resp = await admin.client.post(
        "/api/v1/auth/token",
        data={
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    assert resp.status_code == 200, resp.text
    return Api(admin.client, resp.json()["access_token"], made["client_id"])


async def _household(s: Scenario, key: str, village: str, kinds: list[str]) -> None:
    body = {
        "head_name": f"户主{key}",
        "area_code": village,
        "platform_id": f"P{s.world.code}{key}{secrets.token_hex(2)}",
        "statuses": [{"kind": k, "since": "2020-01-01"} for k in kinds],
    }
    s.households[key] = await s.world.admin.ok("POST", "/api/v1/households", 201, json=body)


async def _student(
    s: Scenario,
    key: str,
    *,
    school: str,
    stage: str,
    grade: int,
    name: str,
    household: str | None,
    boarding: bool = False,
    groups: list[str] | None = None,
) -> None:
    body = s.world.student_body(school, stage=stage, grade=grade, name=name, groups=groups or [])
    body["id_number"] = make_id_number(birth_for(stage, grade))
    body["enrollment"]["boarding"] = boarding
    if household:
        body["household_id"] = s.households[household]["id"]
    s.students[key] = await s.world.admin.ok("POST", "/api/v1/students", 201, json=body)
    s.students[key]["id_number"] = body["id_number"]


async def _change(s: Scenario, key: str, kind: str, **details: Any) -> None:
    await s.world.admin.ok(
        "POST",
        f"/api/v1/students/{s.sid(key)}/enrollment-changes",
        201,
        json={"kind": kind, "effective_date": SEMESTER_START.isoformat(), "details": details},
    )


async def _pay(s: Scenario, policy: dict, school: str, submitter: Api, township: Api) -> None:
    """Generate, submit, approve (township, county) and pay a batch of a school."""
    county = s.world.users["county"]
    body = {
        "school_code": s.world.schools[school]["code"],
        "semester": SEMESTER,
        "policy_code": policy["code"],
    }
    batch = await county.ok("POST", "/api/v1/subsidy/batches", 201, json=body)
    path = f"/api/v1/subsidy/batches/{batch['id']}"
    await submitter.ok("POST", f"{path}/submit", json={"publicity_start": POSTED})
    await township.ok("POST", f"{path}/approve", json={})
    await county.ok("POST", f"{path}/approve", json={})
    await county.ok("POST", f"{path}/pay", json={"paid_on": TODAY.isoformat(), "reference": "GK-TEST"})


async def _policy(s: Scenario, **over: Any) -> dict:
    body = {
        "code": f"V{secrets.token_hex(3)}",
        "name": "测试资助",
        "kind": "living_allowance",
        "stages": ["primary"],
        "categories": [],
        "boarding_only": False,
        "amount_fen": 62500,
        "years": [YEAR],
        **over,
    }
    return await s.world.users["county"].ok("POST", "/api/v1/subsidy/policies", 201, json=body)


async def build(world: World, db) -> Scenario:
    """Households, students, payments and the roster of the verification tests (see EXPECTED)."""
    s = Scenario(world)
    v0, v1, v2 = world.villages
    for key, village, kinds in [("H1", v0, ["registered_poor"]), ("H2", v0, ["dibao"]), ("H3", v2, ["monitored"]),
                                ("H4", v1, []), ("H5", v0, ["tekun"])]:  # fmt: skip
        await _household(s, key, village, kinds)
    add = _student
    await add(s, "A", school="primary", stage="primary", grade=3, name="周一", household="H1", boarding=True)
    await add(
        s, "B", school="primary", stage="primary", grade=2, name="王晓明", household="H1", boarding=True
    )
    await add(s, "C", school="primary", stage="primary", grade=4, name="吴三", household="H2")
    await add(s, "D", school="primary", stage="primary", grade=5, name="郑四", household="H2", boarding=True,
              groups=["orphan"])  # fmt: skip
    await add(s, "E", school="junior", stage="junior", grade=1, name="冯五", household="H4")
    await add(s, "F", school="junior", stage="junior", grade=2, name="陈六", household="H3")
    await add(s, "G", school="other_primary", stage="primary", grade=1, name="褚七", household="H5")
    await add(s, "K", school="primary", stage="primary", grade=6, name="卫八", household="H1")
    await add(s, "M", school="primary", stage="primary", grade=1, name="李娜", household="H2")
    await add(s, "N", school="other_primary", stage="primary", grade=2, name="张玮", household="H4")
    await add(s, "Q", school="other_primary", stage="primary", grade=6, name="蒋九", household="H2")
    await _change(s, "K", "out_of_county", province="广东省")
    await _change(s, "Q", "drop_out")
    junior_school = await world.user("school", world.townships[1], world.schools["junior"]["code"])
    township1 = await world.user("township", world.townships[1])
    poor = ["registered_poor", "dibao", "tekun", "monitored", "orphan", "disabled"]
    la1 = await _policy(s, categories=poor, boarding_only=True)
    la2 = await _policy(s, categories=["orphan"])
    grant = await _policy(s, kind="grant", stages=["junior"])
    for key in ("K", "Q"):
        got = await world.admin.ok("GET", f"/api/v1/students/{s.sid(key)}")
        s.students[key] = {**got, "id_number": s.students[key]["id_number"]}
    await _subsidy_projected(db, s)
    await _pay(s, la1, "primary", world.users["school"], world.users["township"])  # A, B, D
    await _pay(s, la2, "primary", world.users["school"], world.users["township"])  # D again
    await _pay(s, grant, "junior", junior_school, township1)  # E, F
    await _change(s, "F", "suspend")
    s.households["H6"] = {"platform_id": f"P{world.code}H6{secrets.token_hex(2)}"}  # unknown to the registry
    s.rows = roster_rows(s)
    s.platform = await platform_client(world.admin, world.code)
    return s


def roster_rows(s: Scenario) -> list[dict]:
    """The roster: right rows, a mistyped name, mistyped IDs, children unknown to the registry, bad rows."""

    def row(hh: str, name: str, id_number: str, statuses: list[str]) -> dict:
        return {
            "household_platform_id": s.pid(hh),
            "name": name,
            "id_number": id_number,
            "statuses": statuses,
        }

    st = s.students
    m_birth = date.fromisoformat(st["M"]["birth_date"])
    n_birth = date.fromisoformat(st["N"]["birth_date"])
    return [
        row("H1", "周一", st["A"]["id_number"], ["registered_poor"]),
        row("H1", "王小明", st["B"]["id_number"], ["registered_poor"]),  # identity_mismatch (name)
        row("H2", "吴三", st["C"]["id_number"], ["dibao"]),  # unpaid_eligible
        row("H2", "郑四", st["D"]["id_number"], ["dibao"]),  # duplicate_payment
        row("H3", "陈六", st["F"]["id_number"], ["monitored"]),  # paid_not_enrolled, not_in_school
        row("H1", "卫八", st["K"]["id_number"], ["lifted"]),  # out_of_county_incomplete
        row(
            "H2", "李那", make_id_number(m_birth, male=st["M"]["gender"] == "male"), ["dibao"]
        ),  # ~M by household
        row("H6", "张伟", make_id_number(n_birth, male=st["N"]["gender"] == "male"), []),  # ~N by birth date
        row("H2", "蒋九", st["Q"]["id_number"], ["dibao"]),  # not_in_school (dropped out)
        row("H1", "赵六", make_id_number(born(8)), ["registered_poor"]),  # missing_in_registry, not_in_school
        row("H2", "钱七", make_id_number(born(17)), ["dibao"]),  # missing_in_registry only
        row("H1", "孙婴", make_id_number(born(1)), ["registered_poor"]),  # too young: nothing
        row("H3", "李大", make_id_number(born(20)), ["monitored"]),  # too old: nothing
        row("H1", "错号", st["A"]["id_number"][:-1] + ("0" if st["A"]["id_number"][-1] != "0" else "1"), []),
        row("H2", "重复", st["C"]["id_number"], ["dibao"]),  # the same ID again: row error
    ]


async def _subsidy_projected(db, s: Scenario) -> None:
    """Wait until the subsidy service holds the students (at their versions) and schools: batches need them."""
    want = {st["id"]: st["version"] for st in s.students.values()}
    schools = [sch["code"] for sch in s.world.schools.values()]

    async def check() -> bool:
        rows = await db.fetch(
            "SELECT student_id::text AS id, version FROM subsidy.student WHERE student_id::text = ANY($1)",
            list(want),
        )
        have = {r["id"]: r["version"] for r in rows}
        n = await db.fetchval("SELECT count(*) FROM subsidy.school WHERE code = ANY($1)", schools)
        return all(have.get(k, 0) >= v for k, v in want.items()) and n == len(schools)

    await eventually(check, timeout=15)


async def wait_facts(db, s: Scenario, *, payments: int) -> None:
    """Wait until the statistics service holds the students at their versions and the paid lines."""
    api = s.world.admin
    want = {}
    for st in s.students.values():
        got = await api.ok("GET", f"/api/v1/students/{st['id']}")
        want[got["id"]] = got["version"]

    async def check() -> bool:
        rows = await db.fetch(
            "SELECT student_id::text AS id, version FROM statistics.student_fact WHERE student_id::text = ANY($1)",
            list(want),
        )
        have = {r["id"]: r["version"] for r in rows}
        paid = await db.fetchval(
            "SELECT count(*) FROM statistics.payment_fact WHERE student_id::text = ANY($1) AND status = 'paid'",
            list(want),
        )
        return all(have.get(k, 0) >= v for k, v in want.items()) and paid >= payments

    await eventually(check, timeout=20)


def as_csv(rows: list[dict]) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(HEADER)
    for r in rows:
        writer.writerow(
            [r["household_platform_id"], r["name"], r["id_number"], "；".join(_labels(r["statuses"]))]
        )
    return out.getvalue().encode("utf-8-sig")


def as_xlsx(rows: list[dict]) -> bytes:
    body = [[r["household_platform_id"], r["name"], r["id_number"], ";".join(r["statuses"])] for r in rows]
    return write_xlsx([("roster", ["household_platform_id", "name", "id_number", "statuses"], body)])


LABELS = {
    "registered_poor": "建档立卡",
    "lifted": "脱贫",
    "monitored": "监测对象",
    "dibao": "低保",
    "tekun": "特困",
}


def _labels(kinds: list[str]) -> list[str]:
    return [LABELS[k] for k in kinds]


async def submit(api: Api, *, rows: list[dict] | None = None, file: tuple[str, bytes] | None = None,
                 status: int = 202, **fields: Any) -> dict:  # fmt: skip
    if file is not None:
        resp = await api.post(
            "/api/v1/verifications", files={"file": file}, data={"semester": SEMESTER, **fields}
        )
    else:
        resp = await api.post("/api/v1/verifications", json={"semester": SEMESTER, "rows": rows, **fields})
    assert resp.status_code == status, resp.text
    return resp.json()


async def done(api: Api, job: dict, timeout: float = 30) -> dict:
    """Poll a verification until it is done (or failed)."""

    async def check():
        got = await api.ok("GET", f"/api/v1/verifications/{job['id']}")
        return got if got["status"] in ("done", "failed") else None

    return await eventually(check, timeout=timeout, interval=0.2)


async def findings(api: Api, job: dict, **params: Any) -> list[dict]:
    """Every finding of a job (all pages)."""
    items, cursor = [], None
    while True:
        page = await api.ok(
            "GET", f"/api/v1/verifications/{job['id']}/findings",
            params={**params, "limit": 500, **({"cursor": cursor} if cursor else {})},
        )  # fmt: skip
        items += page["items"]
        if not (cursor := page["next_cursor"]):
            return items
