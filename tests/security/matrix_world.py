"""Two fresh counties for the access matrix: users of every role in A, records of every kind in both.

County A's probe records sit where every role of A sees them (the first township, its primary
school, the first village); county B mirrors them and is out of everyone's scope. A few records
of A sit in its second township (siblings), so lists show whether narrower roles see too much.
Pools hold one record per allowed role for operations that change what they act on. A third
county, C, is the other end of the transfer requests: C→A and A→C are A's (both ends see a
request), B→C is out of A's scope.
"""

import asyncio
import base64
import csv
import io
import itertools
import secrets
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from stdnum import luhn

from services.contracts.calendar import today as local_today
from services.dropout.students.unregistered import stand_in_id
from services.kit.crypto import FieldCipher
from services.subsidy.domain import current_semester
from tests.dropout.helpers import direct
from tests.helpers import USER_PASSWORD, Api, World, birth_for, eventually, make_id_number
from tests.security import access_matrix as m

TODAY = local_today()
PAST = "2026-spring" if TODAY >= date(2026, 8, 1) else "2025-autumn"
POSTED = (TODAY - timedelta(days=5)).isoformat()  # a notice posted five days ago has run its course
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "小明华伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞平刚桂英"
_names = itertools.count(1)
_rng = secrets.SystemRandom()


def name3() -> str:
    """A three-character name (masked on public notices as 王*明)."""
    return _rng.choice(SURNAMES) + _rng.choice(GIVEN) + _rng.choice(GIVEN)


@dataclass(frozen=True)
class Place:
    """Where a record lies, for the scope rules: its area, school, village."""

    area: str
    school: str | None = None
    village: str | None = None
    schools: frozenset[str] = frozenset()  # a household: the schools of its students
    villages: frozenset[str] = frozenset()  # a batch: the villages of its lines


@dataclass
class County:
    world: World
    users: dict[str, Api] = field(default_factory=dict)
    rec: dict[str, Any] = field(default_factory=dict)  # probe name -> id, code or record

    @property
    def code(self) -> str:
        return self.world.code

    @property
    def primary(self) -> str:
        return self.world.schools["primary"]["code"]

    @property
    def v0(self) -> str:
        return self.world.villages[0]

    @property
    def t0(self) -> str:
        return self.world.townships[0]


@dataclass
class Sibling(County):
    """County A from its second township: outside the scope of A's township, school and village users."""

    @property
    def code(self) -> str:
        return self.world.townships[1]

    @property
    def primary(self) -> str:
        return self.world.schools["junior"]["code"]

    @property
    def v0(self) -> str:
        return self.world.villages[2]

    @property
    def t0(self) -> str:
        return self.world.townships[1]


@dataclass
class Setting:
    a: County
    b: County
    admin: Api  # the session's admin (area 61): reads what lies in either county
    platform_secret: dict[str, str] = field(default_factory=dict)
    places: dict[str, Place] = field(default_factory=dict)
    id_numbers: set[str] = field(default_factory=set)
    id_of: dict[str, str] = field(default_factory=dict)  # student id -> full ID number
    b_tokens: set[str] = field(default_factory=set)
    sibling: Sibling | None = None  # A's records in its second township, by the probe names of B
    names: set[str] = field(default_factory=set)
    pools: dict[tuple[str, str], Any] = field(default_factory=dict)  # (pool, role) -> record
    school_day: date = TODAY
    third: World | None = None  # county C: the other end of A's and B's transfer requests

    def b_ids(self) -> set[str]:
        """Every id, code and username made in county B (its areas are matched by their prefix)."""
        out = set()
        for value in self.b.rec.values():
            found = (
                [value.get(k) for k in ("id", "code", "username", "client_id")]
                if isinstance(value, dict)
                else [value]
            )
            out |= {str(v) for v in found if isinstance(v, str | int) and len(str(v)) >= 8}
        out |= {s["code"] for s in self.b.world.schools.values()}
        out |= {api.username for api in self.b.users.values()}
        out |= {v for (pool, _), v in self.pools.items() if pool.endswith("_b")}
        return out


async def _student(
    s: Setting, c: County, key: str, *, school="primary", household="hMain", disabled=False, boarding=False
) -> dict:
    """A student (orphan: eligible for aid; only boarders get on the batches' lines)."""
    w = c.world
    body = w.student_body(school, name=name3(), groups=["orphan"])
    body["enrollment"]["boarding"] = boarding
    body["household_id"] = c.rec[household]["id"]
    if disabled:
        body["disability"] = {"category": "physical", "grade": 2}
    got = await c.users["county"].ok("POST", "/api/v1/students", 201, json=body)
    s.id_numbers.add(body["id_number"])
    s.id_of[got["id"]] = body["id_number"]
    s.names.add(body["name"])
    hh = c.rec[household]
    s.places[got["id"]] = Place(got["area_code"], got["enrollment"]["school_code"], hh["area_code"])
    c.rec[key] = got
    return got


async def _household(s: Setting, c: County, key: str, village: str) -> dict:
    body = {
        "head_name": name3(),
        "area_code": village,
        "platform_id": f"P{secrets.token_hex(6)}",
        "statuses": [{"kind": "registered_poor", "since": "2020-01-01"}],
    }
    c.rec[key] = await c.users["county"].ok("POST", "/api/v1/households", 201, json=body)
    return c.rec[key]


async def _users(s: Setting, c: County, *, first: bool) -> None:
    w = c.world
    c.users.update(w.users)
    if first:
        c.users["admin"] = await w.user("admin", w.code)
        made = await s.admin.ok(
            "POST", "/api/v1/clients", 201, json={"name": f"平台{w.code}", "area_code": w.code}
        )
        s.platform_secret = {"client_id": made["client_id"], "client_secret": made["client_secret"]}
        resp = await s.admin.client.post(
            "/api/v1/auth/token", data={"grant_type": "client_credentials", **s.platform_secret}
        )
        assert resp.status_code == 200, resp.text
        c.users["platform"] = Api(s.admin.client, resp.json()["access_token"], made["client_id"])
    for key in ("uRead", "uPatch", "uToggle") if first else ("uRead",):
        username = f"mx_{key.lower()}_{secrets.token_hex(3)}"
        c.rec[key] = await s.admin.ok(
            "POST",
            "/api/v1/users",
            201,
            json={"username": username, "password": USER_PASSWORD, "role": "village", "area_code": c.v0},
        )
    if first:  # a school user, to be given a school outside the manager's area
        c.rec["uSchool"] = await s.admin.ok(
            "POST",
            "/api/v1/users",
            201,
            json={
                "username": f"mx_school_{secrets.token_hex(3)}",
                "password": USER_PASSWORD,
                "role": "school",
                "area_code": c.t0,
                "school_code": c.primary,
            },
        )
    client = await s.admin.ok(
        "POST", "/api/v1/clients", 201, json={"name": "测试客户端", "area_code": w.code}
    )
    c.rec["client"] = client["client_id"]
    hook = {"url": "http://127.0.0.1:9/hook", "events": ["edu.registry.area.updated"]}
    made = await s.admin.ok("POST", f"/api/v1/clients/{client['client_id']}/webhooks", 201, json=hook)
    c.rec["webhook"] = made["id"]
    if first:  # the platform role's own webhook (a client reads its own delivery log)
        own = s.platform_secret["client_id"]
        c.rec["pwebhook"] = (await s.admin.ok("POST", f"/api/v1/clients/{own}/webhooks", 201, json=hook))["id"]


async def registry(s: Setting, c: County, *, first: bool) -> None:
    """Users, households and students of a county."""
    w = c.world
    await _users(s, c, first=first)
    await asyncio.gather(
        _household(s, c, "hMain", c.v0),
        _household(s, c, "hPatch", c.v0),
        _household(s, c, "hSib", w.villages[2]),
    )
    keys = ["sFree", "sGrad", "sLegal"]
    disabled = ["sHT", "sPl0"]
    if first:
        keys += [
            "sPatch",
            "sCP",
            "sCA",
            "sT1",
            "sT2",
            *(f"sEnroll{i}" for i in range(3)),
            *(f"sCaseFree{i}" for i in range(3)),
            *(f"sPair{i}" for i in range(len(m.STAFF))),
        ]
        disabled += ["sPP", "sPl1", "sPl2"]
    jobs = (
        [_student(s, c, "sMain", boarding=True)]
        + [_student(s, c, k) for k in keys]
        + [_student(s, c, k, disabled=True) for k in disabled]
    )
    jobs += [
        _student(s, c, "sHP", household="hPatch"),
        _student(s, c, "sSib", school="junior", household="hSib"),
    ]
    if first:  # a boarder of the primary school from the township's other village: on every batch
        await _household(s, c, "hV1", w.villages[1])
        jobs.append(_student(s, c, "sV1", household="hV1", boarding=True))
    await asyncio.gather(*jobs)
    # A graduate of this year, not gone on: on the county's progression list.
    await c.users["county"].ok("POST", f"/api/v1/students/{c.rec['sGrad']['id']}/enrollment-changes", 201,
                               json={"kind": "graduate", "effective_date": TODAY.isoformat()})
    for key in ("hMain", "hPatch", "hSib", "hV1") if first else ("hMain", "hPatch", "hSib"):
        hh = c.rec[key]
        schools = frozenset(
            st["enrollment"]["school_code"]
            for st in c.rec.values()
            if isinstance(st, dict) and st.get("household_id") == hh["id"]
        )
        s.places[hh["id"]] = Place(hh["area_code"], village=hh["area_code"], schools=schools)


async def projected(db, s: Setting) -> None:
    """Wait until subsidy, dropout and statistics hold every student, school and household."""
    students = [
        v["id"] for c in (s.a, s.b) for v in c.rec.values() if isinstance(v, dict) and "enrollment" in v
    ]
    schools = [x["code"] for c in (s.a, s.b) for x in c.world.schools.values()]
    households = [c.rec[k]["id"] for c in (s.a, s.b) for k in ("hMain", "hPatch", "hSib")]

    async def check() -> bool:
        q = "SELECT count(*) FROM {} WHERE {}::text = ANY($1)"
        counts = [
            await db.fetchval(q.format("subsidy.student", "student_id"), students),
            await db.fetchval(q.format("dropout.student", "id"), students),
            await db.fetchval(q.format("statistics.student_fact", "student_id"), students),
        ]
        n_schools = await db.fetchval(q.format("subsidy.school", "code"), schools)
        n_households = await db.fetchval(q.format("statistics.household_fact", "household_id"), households)
        return (
            all(n == len(students) for n in counts)
            and n_schools == len(schools)
            and n_households == len(households)
        )

    await eventually(check, timeout=30)


def policy_body(**over: Any) -> dict:
    years = sorted({int(PAST[:4]), TODAY.year, int(current_semester()[:4])})
    return {
        "code": f"MX{secrets.token_hex(4)}",
        "name": "义务教育家庭经济困难寄宿生生活补助（小学）",
        "kind": "living_allowance",
        "stages": ["primary"],
        "categories": ["registered_poor", "dibao", "tekun", "orphan", "disabled"],
        "boarding_only": True,
        "amount_fen": 62500,
        "years": years,
        **over,
    }


async def _batch(c: County, steps: list[str]) -> dict:
    """Make a batch at the primary school and walk it through the steps."""
    county = c.users["county"]
    policy = await county.ok("POST", "/api/v1/subsidy/policies", 201, json=policy_body())
    batch = await county.ok(
        "POST",
        "/api/v1/subsidy/batches",
        201,
        json={"school_code": c.primary, "semester": PAST, "policy_code": policy["code"]},
    )
    path = f"/api/v1/subsidy/batches/{batch['id']}"
    for step in steps:
        who, action, body = {
            "submit": ("school", "submit", {"publicity_start": POSTED}),
            "submit_today": ("school", "submit", {"publicity_start": TODAY.isoformat()}),
            "township": ("township", "approve", {}),
            "county": ("county", "approve", {}),
            "pay": ("county", "pay", {"paid_on": TODAY.isoformat(), "reference": "MX-PAID"}),
        }[step]
        batch = await c.users[who].ok("POST", f"{path}/{action}", json=body)
    return batch


BATCH_POOLS = {
    # pool -> role -> steps before the test acts
    "regenerate": {r: [] for r in m.BATCH_MAKERS},
    "submit": {m.SCHOOL: []},
    "approve": {m.TOWNSHIP: ["submit"], m.COUNTY: ["submit", "township"], m.ADMIN: ["submit", "township"]},
    "reject": {m.TOWNSHIP: ["submit"], m.COUNTY: ["submit"], m.ADMIN: ["submit"]},
    "pay": {r: ["submit", "township", "county"] for r in m.CHIEFS},
    "cancel": {r: [] for r in (m.ADMIN, m.COUNTY, m.SCHOOL)},
}


async def subsidy(s: Setting, c: County, *, first: bool) -> None:
    """Policies and batches in every state the operations need; a paid and a published batch."""
    county = c.users["county"]

    async def policy(key: str) -> None:
        c.rec[key] = await county.ok("POST", "/api/v1/subsidy/policies", 201, json=policy_body())

    await asyncio.gather(policy("pRead"), policy("pPatch"))
    c.rec["bPaid"], c.rec["bPub"], c.rec["bDraft"] = await asyncio.gather(
        _batch(c, ["submit", "township", "county", "pay"]), _batch(c, ["submit_today"]), _batch(c, [])
    )
    if first:
        made = await asyncio.gather(
            *(_batch(c, steps) for pool in BATCH_POOLS.values() for steps in pool.values())
        )
        it = iter(made)
        for pool, roles in BATCH_POOLS.items():
            for role in roles:
                s.pools[(pool, role)] = b = next(it)
                s.places[b["id"]] = Place(b["area_code"], b["school_code"], villages=frozenset({c.v0}))
        codes = await asyncio.gather(
            *(county.ok("POST", "/api/v1/subsidy/policies", 201, json=policy_body()) for _ in m.BATCH_MAKERS)
        )
        for role, p in zip(sorted(m.BATCH_MAKERS), codes, strict=True):
            s.pools[("batch_policy", role)] = p["code"]
    for key in ("bPaid", "bPub", "bDraft"):
        b = c.rec[key]
        s.places[b["id"]] = Place(b["area_code"], b["school_code"], villages=frozenset({c.v0}))
    path = f"/api/v1/subsidy/batches/{c.rec['bPub']['id']}/objections"
    if first:  # an objection a village user of the first village must not see
        await county.ok("POST", path, 201, json={"student_id": c.rec["sV1"]["id"], "reason": "已外出务工"})
    body = {"student_id": c.rec["sMain"]["id"], "reason": "家庭情况已好转"}
    roles = sorted(m.APPROVERS) if first else ["county"]
    objections = await asyncio.gather(*(county.ok("POST", path, 201, json=body) for _ in roles))
    if first:
        for role, o in zip(roles, objections, strict=True):
            s.pools[("resolve", role)] = o["id"]
    c.rec["objection"] = objections[0]["id"]
    await aid_and_loan(s, c)
    await payees(s, c, first=first)
    await hardship(s, c, first=first)


async def payees(s: Setting, c: County, *, first: bool) -> None:
    """Payees of the boarders on the batches' lines; in A a paid batch whose lines the bank returns, and
    students without a payee yet, one for each role that records payees."""
    county = c.users["county"]
    boarders = ["sMain", "sV1"] if first else ["sMain"]
    made = await asyncio.gather(
        *(county.ok("POST", "/api/v1/subsidy/payees", 201, json=payee_body(c.rec[k]["id"])) for k in boarders)
    )
    c.rec["payeeMain"] = made[0]
    s.places[made[0]["id"]] = s.places[c.rec["sMain"]["id"]]
    if first:
        c.rec["bReturn"] = b = await _batch(c, ["submit", "township", "county", "pay"])
        s.places[b["id"]] = Place(b["area_code"], b["school_code"], villages=frozenset({c.v0}))
        for role, key in zip(sorted(m.WRITERS), ("sFree", "sLegal", "sHP"), strict=True):
            s.pools[("payee_new", role)] = key


HARDSHIP = "/api/v1/subsidy/hardship"
HARDSHIP_POOLS = {
    # pool -> role -> steps before the test acts (each record a school year of its own for sMain)
    "hs_submit": {m.SCHOOL: [], m.COUNTY: [], m.ADMIN: []},
    "hs_approve": {m.TOWNSHIP: ["submit"], m.COUNTY: ["submit", "township"], m.ADMIN: ["submit", "township"]},
    "hs_reject": {m.TOWNSHIP: ["submit"], m.COUNTY: ["submit"], m.ADMIN: ["submit"]},
    "hs_revoke": {m.COUNTY: ["submit", "township", "county"], m.ADMIN: ["submit", "township", "county"]},
}


async def _hardship(c: County, year: int, steps: list[str]) -> dict:
    """A hardship identification of sMain for a school year, walked through the steps."""
    body = {"student_id": c.rec["sMain"]["id"], "school_year": year, "level": "hard", "reason": "家庭困难"}
    row = await c.users["county"].ok("POST", HARDSHIP, 201, json=body)
    for step in steps:
        who, action, body = {
            "submit": ("county", "submit", {"publicity_start": POSTED}),
            "township": ("township", "approve", {}),
            "county": ("county", "approve", {}),
        }[step]
        row = await c.users[who].ok("POST", f"{HARDSHIP}/{row['id']}/{action}", json=body)
    return row


async def hardship(s: Setting, c: County, *, first: bool) -> None:
    """sMain's hardship identifications: one to read (and B's probe), and in A one per role and step
    the operations need; the proposals' school years (`hs_year`) are free for each creating role."""
    years = itertools.count(TODAY.year - 20)
    c.rec["hardshipMain"] = await _hardship(c, next(years), ["submit"])
    s.places[c.rec["hardshipMain"]["id"]] = s.places[c.rec["sMain"]["id"]]
    if not first:
        return
    wanted = [(pool, role, steps) for pool, roles in HARDSHIP_POOLS.items() for role, steps in roles.items()]
    made = await asyncio.gather(*(_hardship(c, next(years), steps) for _, _, steps in wanted))
    for (pool, role, _), row in zip(wanted, made, strict=True):
        s.pools[(pool, role)] = row
        s.places[row["id"]] = s.places[c.rec["sMain"]["id"]]
    for role in sorted(m.WRITERS):
        s.pools[("hs_year", role)] = next(years)


def payee_body(student_id: str) -> dict:
    body = "622848" + "".join(_rng.choice("0123456789") for _ in range(12))
    check = next(d for d in "0123456789" if luhn.is_valid(body + d))
    return {"student_id": student_id, "guardian_name": name3(), "relation": "mother",
            "account_kind": "bank_card", "account_number": body + check, "bank_name": "农业银行"}  # fmt: skip


async def aid_and_loan(s: Setting, c: County) -> None:
    """sMain's aid received elsewhere (a scholarship: no batch here is of that kind) and its loan."""
    county, main = c.users["county"], c.rec["sMain"]
    c.rec["aidMain"], c.rec["loanMain"] = await asyncio.gather(
        county.ok("POST", "/api/v1/subsidy/aid-elsewhere", 201, json=aid_body(main["id"])),
        county.ok("POST", "/api/v1/subsidy/loans", 201, json=loan_body(main["id"])),
    )
    for key in ("aidMain", "loanMain"):
        s.places[c.rec[key]["id"]] = s.places[main["id"]]


def aid_body(student_id: str) -> dict:
    return {"student_id": student_id, "payer": {"name": "邻省某县", "code": "520502"},
            "policy_kind": "scholarship", "semester": PAST, "amount_fen": 50000}  # fmt: skip


def loan_body(student_id: str) -> dict:
    return {"student_id": student_id, "loan_kind": "origin_credit", "year": TODAY.year, "amount_fen": 800000,
            "lender": "国家开发银行", "contract_number": f"MX{secrets.token_hex(5)}"}  # fmt: skip


async def dropout(s: Setting, c: County, *, first: bool) -> None:
    """Cases, placements, an absence, a start-of-semester check, and the tasks cases give."""
    county = c.users["county"]

    async def case(key: str, student: str) -> None:
        c.rec[key] = await county.ok(
            "POST",
            "/api/v1/dropout/cases",
            201,
            json={"student_id": c.rec[student]["id"], "reason_group": "poverty"},
        )

    async def placement(key: str, student: str, kind: str) -> None:
        c.rec[key] = await county.ok(
            "POST",
            "/api/v1/disability/placements",
            201,
            json={"student_id": c.rec[student]["id"], "placement": kind, "year": TODAY.year},
        )

    cases = [("cMain", "sMain"), ("cSib", "sSib")]
    if first:
        cases += [("cPatch", "sCP"), ("cAct", "sCA"), ("cT1", "sT1"), ("cT2", "sT2")]
    jobs = [case(k, st) for k, st in cases] + [placement("plHT", "sHT", "home_teaching")]
    if first:
        jobs.append(placement("plPatch", "sPP", "regular_class"))
    jobs.append(
        county.ok(
            "POST",
            "/api/v1/attendance/absences",
            json=[
                {"student_id": c.rec[k]["id"], "date": s.school_day.isoformat(), "reason": "sick"}
                for k in ("sMain", "sSib")
            ],
        )
    )
    jobs.append(
        county.ok(
            "POST",
            "/api/v1/dropout/verifications",
            201,
            json={"school_code": c.primary, "semester": "2023-autumn"},
        )
    )
    results = await asyncio.gather(*jobs)
    c.rec["vCheck"] = results[-1]


# A JPEG by its bytes (services.dropout.evidence sniffs the magic number), nothing else in it.
EVIDENCE_JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 64 + b"\xff\xd9"


def outside_roster_csv(s: Setting, c: County) -> bytes:
    """A public-security roster naming sMain (on a roll): nothing to open, findings of who it lacks."""
    main = c.rec["sMain"]
    return f"姓名,身份证号,村代码\n{main['name']},{s.id_of[main['id']]},{c.v0}\n".encode()


async def outside_and_evidence(s: Setting, c: County) -> None:
    """An outside roster (联控联保) of the county, compared; an evidence file of sMain (佐证材料)."""
    county = c.users["county"]
    form = {"source": "public_security", "as_of": TODAY.isoformat()}
    roster, evidence = await asyncio.gather(
        county.ok("POST", "/api/v1/dropout/rosters", 202, data=form,
                  files={"file": ("roster.csv", outside_roster_csv(s, c), "text/csv")}),
        county.ok("POST", "/api/v1/evidence", 201, data={"kind": "photo", "student_id": c.rec["sMain"]["id"]},
                  files={"file": ("visit.jpg", EVIDENCE_JPEG, "image/jpeg")}),
    )  # fmt: skip
    c.rec["evMain"] = evidence

    async def done():
        got = await county.ok("GET", f"/api/v1/dropout/rosters/{roster['id']}")
        return got if got["status"] in ("done", "failed") else None

    c.rec["roster"] = await eventually(done, timeout=30)
    assert c.rec["roster"]["status"] == "done", c.rec["roster"]
    s.places[roster["id"]] = Place(c.code)


async def dropout_tasks(s: Setting) -> None:
    """One open task per role of A (from cases cT1, cT2), and B's tasks by role."""

    async def tasks_of(c: County, case: str) -> dict[str, str]:
        own = direct(s.admin)  # the dropout service itself: the gateway's merged list mixes in subsidy's
        async with own.client:
            got = await own.ok("GET", "/api/v1/tasks", params={"case_id": c.rec[case]["id"]})
        return {t["role"]: t["id"] for t in got["items"]}

    t1, t2, tb = await asyncio.gather(tasks_of(s.a, "cT1"), tasks_of(s.a, "cT2"), tasks_of(s.b, "cMain"))
    for role in m.STAFF - {m.ADMIN}:
        s.pools[("task", role)] = t1[role]
        s.pools[("task_b", role)] = tb[role]
    s.pools[("task", m.ADMIN)] = t2["county"]
    s.pools[("task_b", m.ADMIN)] = tb["county"]


def students_csv(c: County, s: Setting, *, school: str | None = None) -> bytes:
    """One student row at the county's primary school (or `school`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(
        [
            "name",
            "id_number",
            "ethnicity",
            "school_code",
            "stage",
            "grade",
            "class_name",
            "boarding",
            "status",
        ]
    )
    id_number = make_id_number(birth_for("primary", 3))
    s.id_numbers.add(id_number)
    writer.writerow(
        [name3(), id_number, "汉族", school or c.primary, "primary", 3, "3年级(1)班", "否", "enrolled"]
    )
    return out.getvalue().encode()


def roster_child(s: Setting, id_number: str, area: str) -> None:
    """Place the stand-in the dropout service makes for a roster child the registry lacks (its cases
    and tasks name no area: they lie in the roster's)."""
    key = base64.b64decode((s.a.world.stack.data_dir / "keys" / "data.key").read_bytes())
    s.places[str(stand_in_id(FieldCipher(key).lookup_hash(id_number)))] = Place(area)


async def statistics(s: Setting, c: County, *, first: bool) -> None:
    """A platform roster (two children the registry lacks), an import job, a year lock (B)."""
    county = c.users["county"]
    rows = [
        {
            "household_platform_id": f"PX{secrets.token_hex(5)}",
            "name": name3(),
            "id_number": make_id_number(birth_for("primary", 2)),
            "statuses": ["registered_poor"],
        }
        for _ in range(3)
    ]
    s.id_numbers.update(r["id_number"] for r in rows)
    for r in rows:
        roster_child(s, r["id_number"], c.code)
    job = await county.ok(
        "POST", "/api/v1/verifications", 202, json={"semester": current_semester(), "rows": rows}
    )
    importer = c.users["school"] if first else county
    imp = await importer.ok(
        "POST",
        "/api/v1/imports",
        202,
        data={"kind": "students"},
        files={"file": ("students.csv", students_csv(c, s), "text/csv")},
    )
    c.rec["import"] = imp["id"]
    if not first:
        await county.ok("POST", "/api/v1/stats/locks", 201, json={"year": 2003})

    async def done():
        got = await county.ok("GET", f"/api/v1/verifications/{job['id']}")
        return got if got["status"] in ("done", "failed") else None

    c.rec["job"] = await eventually(done, timeout=30)
    assert c.rec["job"]["status"] == "done", c.rec["job"]
    found = await county.ok(
        "GET", f"/api/v1/verifications/{job['id']}/findings", params={"kind": "missing_in_registry"}
    )
    ids = [f["id"] for f in found["items"]]
    assert len(ids) >= 2, found
    c.rec["finding"] = ids[0]
    if first:
        s.pools[("finding", m.ADMIN)], s.pools[("finding", m.COUNTY)] = ids[0], ids[1]


TRANSFER_POOLS = ("accept", "reject", "cancel")  # one pending request per writer role for each


async def _request(sender: Api, student: dict, into: dict) -> dict:
    """Ask to move a student into a school of another county: a pending transfer request."""
    body = {
        "kind": "transfer",
        "effective_date": TODAY.isoformat(),
        "details": {"school_code": into["code"], "grade": 3},
    }
    got = await sender.ok("POST", f"/api/v1/students/{student['id']}/enrollment-changes", 202, json=body)
    return got["transfer_request"]


async def _incoming(s: Setting, school: dict) -> dict:
    """A child of C whom C asks county A to take at `school`."""
    c = s.third
    body = c.student_body("primary", name=name3())
    s.id_numbers.add(body["id_number"])
    kid = await c.users["county"].ok("POST", "/api/v1/students", 201, json=body)
    got = await _request(c.users["county"], kid, school)
    s.places[got["id"]] = Place(school["area_code"], school["code"])
    return got


async def _outgoing(s: Setting, c: County, key: str) -> dict:
    """A child of county `c` whom `c` asks C to take."""
    kid = await _student(s, c, key)
    got = await _request(c.users["county"], kid, s.third.schools["primary"])
    s.places[got["id"]] = Place(kid["area_code"], kid["enrollment"]["school_code"])
    return got


async def transfers(s: Setting) -> None:
    """Pending requests: into A (one to read, one per writer role to accept or reject), into A's
    second township (siblings), out of A (one per writer role to withdraw), and B→C (out of scope)."""
    a, primary, junior = s.a, s.a.world.schools["primary"], s.a.world.schools["junior"]
    writers = sorted(m.WRITERS)
    jobs = [_incoming(s, primary), _incoming(s, junior), _outgoing(s, s.b, "sTr")]
    jobs += [_incoming(s, primary) for _ in writers for _ in ("accept", "reject")]
    jobs += [_outgoing(s, a, f"sTrOut{i}") for i, _ in enumerate(writers)]
    made = iter(await asyncio.gather(*jobs))
    a.rec["trRead"], a.rec["trSib"], s.b.rec["trRead"] = next(made), next(made), next(made)
    for role in writers:
        s.pools[("tr_accept", role)], s.pools[("tr_reject", role)] = next(made), next(made)
    for role in writers:
        s.pools[("tr_cancel", role)] = next(made)


async def last_school_day(api: Api) -> date:
    """The last school day before today under the national calendar (weekday, not a holiday)."""
    got = await api.ok("GET", f"/api/v1/dropout/calendar/{TODAY.year}")
    holidays = {d["date"] for d in got["days"] if d["kind"] == "holiday"}
    day = TODAY - timedelta(days=1)
    while day.weekday() >= 5 or day.isoformat() in holidays:
        day -= timedelta(days=1)
    return day


async def siblings(s: Setting) -> None:
    """Records of A in its second township under the probe names, and the to-dos of its case."""
    a, w = s.a, s.a.world
    county = a.users["county"]
    await _student(s, a, "sDisSib", school="junior", household="hSib", disabled=True)
    user, placement, check, policy, _, job = await asyncio.gather(  # a policy, a lock, an import of T1
        s.admin.ok(
            "POST",
            "/api/v1/users",
            201,
            json={
                "username": f"mx_sib_{secrets.token_hex(3)}",
                "password": USER_PASSWORD,
                "role": "village",
                "area_code": w.villages[2],
            },
        ),
        _eventually_ok(
            county,
            "/api/v1/disability/placements",
            {"student_id": a.rec["sDisSib"]["id"], "placement": "regular_class", "year": TODAY.year},
        ),
        county.ok(
            "POST",
            "/api/v1/dropout/verifications",
            201,
            json={"school_code": w.schools["junior"]["code"], "semester": "2023-autumn"},
        ),
        county.ok("POST", "/api/v1/subsidy/policies", 201, json=policy_body(area_code=w.townships[1])),
        county.ok("POST", "/api/v1/stats/locks", 201, json={"year": 2005, "area_code": w.townships[1]}),
        county.ok(
            "POST",
            "/api/v1/imports",
            202,
            data={"kind": "students"},
            files={"file": ("students.csv", students_csv(a, s), "text/csv")},
        ),
    )
    s.places[job["id"]] = Place(w.code)
    sib = a.rec["sSib"]["id"]
    aid_sib, loan_sib = await asyncio.gather(
        county.ok("POST", "/api/v1/subsidy/aid-elsewhere", 201, json=aid_body(sib)),
        county.ok("POST", "/api/v1/subsidy/loans", 201, json=loan_body(sib)),
    )
    for record in (aid_sib, loan_sib):
        s.places[record["id"]] = s.places[sib]
    s.sibling = Sibling(
        w,
        a.users,
        {
            "uRead": user,
            "hMain": a.rec["hSib"],
            "hPatch": a.rec["hSib"],
            "sMain": a.rec["sSib"],
            "cMain": a.rec["cSib"],
            "plHT": placement,
            "vCheck": check,
            "pRead": policy,
            "trRead": a.rec["trSib"],
            "aidMain": aid_sib,
            "loanMain": loan_sib,
        },
    )
    own = direct(s.admin)
    async with own.client:
        got = await own.ok("GET", "/api/v1/tasks", params={"case_id": a.rec["cSib"]["id"]})
    for t in got["items"]:
        s.pools[("task_sibling", t["role"])] = t["id"]


async def _eventually_ok(api: Api, path: str, body: dict) -> dict:
    """POST once the dropout service holds the student (its projection follows the registry)."""

    async def attempt():
        resp = await api.post(path, json=body)
        return resp.json() if resp.status_code == 201 else None

    return await eventually(attempt, timeout=20)


async def build(admin: Api, stack: Any, db, codes: tuple[str, str, str]) -> Setting:
    """Both counties (and C), every record the matrix test needs, projections caught up."""
    wa, wb, wc = await asyncio.gather(*(World.create(admin, code=code, stack=stack) for code in codes))
    s = Setting(County(wa), County(wb), admin, third=wc)
    await asyncio.gather(registry(s, s.a, first=True), registry(s, s.b, first=False))
    await transfers(s)
    s.school_day = await last_school_day(s.a.users["county"])
    await projected(db, s)
    await asyncio.gather(
        subsidy(s, s.a, first=True),
        subsidy(s, s.b, first=False),
        dropout(s, s.a, first=True),
        dropout(s, s.b, first=False),
        statistics(s, s.a, first=True),
        statistics(s, s.b, first=False),
        outside_and_evidence(s, s.a),
        outside_and_evidence(s, s.b),
    )
    await asyncio.gather(
        dropout_tasks(s), siblings(s), support(s, s.a, first=True), support(s, s.b, first=False)
    )
    for c in (s.a, s.b):
        w = c.world
        for sch in w.schools.values():
            s.places[sch["code"]] = Place(sch["area_code"], sch["code"])
        for code in [w.code, *w.townships, *w.villages]:
            s.places[code] = Place(code)
        for role, user in c.users.items():
            area = w.code if role in (m.ADMIN, m.COUNTY, m.PLATFORM) else c.v0 if role == m.VILLAGE else c.t0
            s.places[user.username] = Place(area, c.primary if role == m.SCHOOL else None)
    s.b_tokens = s.b_ids()
    return s


async def support(s: Setting, c: County, *, first: bool) -> None:
    """A pairing of sMain, a visit month of the first village, a case whose persuasion failed (sLegal)
    with a notice to the guardian."""
    county = c.users["county"]
    helper = {"name": name3(), "phone": "13800000000"}
    c.rec["pPair"], c.rec["campA"], case = await asyncio.gather(
        county.ok(
            "POST",
            "/api/v1/support/pairings",
            201,
            json={"student_id": c.rec["sMain"]["id"], "helper": helper},
        ),
        county.ok("POST", "/api/v1/support/campaigns", 201, json={"area_code": c.v0, "month": "2025-12"}),
        county.ok("POST", "/api/v1/dropout/cases", 201, json={"student_id": c.rec["sLegal"]["id"]}),
    )
    path = f"/api/v1/dropout/cases/{case['id']}"
    await c.users["school"].ok(
        "POST", f"{path}/actions", 201, json={"kind": "persuasion", "outcome": "failed"}
    )
    c.rec["cLegal"] = case
    c.rec["nLegal"] = await county.ok(
        "POST", f"{path}/legal-steps", 201, json={"kind": "notice", "guardian_name": name3()}
    )
