"""The rollups answer every subsidy and enrollment figure and breakdown exactly as a scan of the facts.

A varied province of its own is built through the statistics consumer (the real handlers and event
shapes, in the consumer's transaction): two counties, townships and villages; households with several
children, one spanning two townships and one two counties; movers between townships, a stage and a
category change within the year; several policies per child; hardship levels and funding shares;
failed lines and re-payments (one arriving before its failure); cancelled lines; a student's status
change and transfer. Then every figure and breakdown, for every scope kind (province, county, township,
school, village; by school and by household; year and semesters), is computed from the rollups
(figures.rollups) and by the scan (figures.scan), and must be equal. Finally the rollups recomputed
set-wise (statistics.rebuild_rollups) equal the ones the triggers kept.
"""

import json
import random
import secrets
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text

from services.contracts import events
from services.kit.auth import Principal, Role
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.settings import Settings
from services.statistics.facts.consumers import on_event
from services.statistics.figures import rollups, scan
from services.statistics.figures.breakdown import group_values
from services.statistics.scope import FigureScope

YEAR = 2025
SPRING, AUTUMN = f"{YEAR}-spring", f"{YEAR}-autumn"
DIMS = ("township", "school", "village", "stage", "category")
ROLLUPS = {
    "payment_cell": "year, semester, area_code, village_code, school_code, stage, categories, policy_kind, "
    "hardship_level, lines, amount_fen, central_fen, provincial_fen, county_fen",
    "payment_member": "year, student_id, household_id, area_code, village_code, school_code, stage, categories, "
    "sems, kinds, kinds_spring, kinds_autumn, levels, levels_spring, levels_autumn, sole",
    "payment_person": "year, area_code, village_code, school_code, stage, categories, sems, kinds, "
    "kinds_spring, kinds_autumn, levels, levels_spring, levels_autumn, students",
    "payment_household": "year, household_id, area_code, village_code, sems",
    "enrollment_cell": "area_code, village_code, school_code, stage, categories, compulsory, students",
    "enrollment_household": "household_id, area_code, village_code, categories",
}


class Province:
    """Codes of a province of the test's own: 2 counties × 2 townships × 2 villages, a school per
    township and stage."""

    def __init__(self) -> None:
        self.code = f"7{secrets.randbelow(10)}"
        self.counties = [f"{self.code}{secrets.randbelow(49) * 2 + n:02d}01" for n in (1, 2)]
        self.townships = [c + t for c in self.counties for t in ("101", "102")]
        self.villages = [t + v for t in self.townships for v in ("201", "202")]
        self.schools = {
            (t, stage): f"{n}{t[2:]}{i}"[:10].ljust(10, "0")
            for i, t in enumerate(self.townships)
            for stage, n in (("primary", "21"), ("junior", "31"), ("senior", "34"))
        }


class Feeder:
    """Events into the statistics consumer, each in its own transaction (as the consumer applies them)."""

    def __init__(self, maker) -> None:
        self.maker = maker
        self.clock = datetime(YEAR, 3, 1, tzinfo=UTC)
        self.versions: dict[str, int] = {}

    async def send(self, type_: str, data: dict, *, version: int | None = None, area: str | None = None):
        self.clock += timedelta(minutes=1)
        raw = {
            "id": str(uuid.uuid4()),
            "type": type_,
            "source": type_.split(".")[1],
            "time": self.clock.isoformat(),
            "subject": data.get("id", ""),
            "area_code": area or data.get("area_code"),
            "version": version,
            "data": data,
        }
        async with self.maker() as session:
            await on_event(session, events.parse(raw))
            await session.commit()

    async def student(self, sid: str, **fields) -> dict:
        self.versions[sid] = self.versions.get(sid, 0) + 1
        data = {"id": sid, "name": "学生", "status": "enrolled", **fields}
        kind = "created" if self.versions[sid] == 1 else "updated"
        await self.send(f"edu.registry.student.{kind}", data, version=self.versions[sid])
        return data

    async def line(self, status: str, /, **fields) -> dict:
        data = {"id": str(uuid.uuid4()), "policy_code": "P", **fields, "status": status}
        await self.send(f"edu.subsidy.disbursement.{status}", data, version=1 if status == "paid" else 2)
        return data


@pytest.fixture
async def maker(stack):
    settings = Settings(
        database_url=stack.env["NOL_DATABASE_URL"], db_role_password=stack.env.get("NOL_DB_ROLE_PASSWORD")
    )
    engine = make_engine(service_url(settings, "statistics"), pool_size=2)
    yield sessionmaker_for(engine)
    await engine.dispose()


async def build(feed: Feeder, p: Province) -> None:
    """The province's students, households and paid, failed, re-paid and cancelled lines."""
    rng = random.Random(17)
    homes = [str(uuid.uuid4()) for _ in range(10)]
    kinds = ("living_allowance", "grant", "scholarship")
    levels = (None, None, "general", "hard", "especially_hard")
    cats = ([], [], ["dibao"], ["registered_poor"], ["dibao", "orphan"], ["disabled"])
    shares = (None, {"central": 50000, "provincial": 6250, "county": 6250}, {"central": 800})
    kids = []
    for i in range(36):
        township = p.townships[i % len(p.townships)]
        stage = ("primary", "primary", "junior", "senior")[i % 4]
        home = homes[i % len(homes)] if i % 7 else None  # some children of no household
        village = p.villages[(i // 2) % len(p.villages)] if home else None
        kid = {
            "sid": str(uuid.uuid4()),
            "household_id": home,
            "village_code": village,
            "area_code": township,
            "school_code": p.schools[(township, stage)],
            "stage": stage,
            "grade": 1 + i % 6,
            "categories": list(rng.choice(cats)),
        }
        kids.append(kid)
        await feed.student(kid["sid"], **{k: v for k, v in kid.items() if k != "sid"})

    def line_of(kid, semester, kind, **over) -> dict:
        return {
            "student_id": kid["sid"],
            "household_id": kid["household_id"],
            "policy_kind": kind,
            "semester": semester,
            "amount_fen": rng.choice((62500, 50000, 10001)),
            "school_code": kid["school_code"],
            "area_code": kid["area_code"],
            "village_code": kid["village_code"],
            "stage": kid["stage"],
            "categories": kid["categories"],
            "shares": rng.choice(shares),
            "hardship_level": rng.choice(levels),
            "paid_on": f"{semester[:4]}-06-01",
            **over,
        }

    paid = []
    for n, kid in enumerate(kids):
        for semester in (SPRING, AUTUMN):
            for kind in kinds[: 1 + (n + len(semester)) % 3]:  # one to three policies per child
                paid.append(await feed.line("paid", **line_of(kid, semester, kind)))
    # Movers: a child moves to another township's school in the autumn; another to another county.
    for kid, to in ((kids[0], p.townships[1]), (kids[5], p.townships[3])):
        moved = {**kid, "area_code": to, "school_code": p.schools[(to, kid["stage"])]}
        await feed.line("paid", **line_of(moved, AUTUMN, "grant"))
    # A stage change (junior → senior) and a category change within the year.
    kid = kids[2]
    await feed.line("paid", **line_of(kid, AUTUMN, "grant", stage="senior", school_code=p.schools[(kid["area_code"], "senior")]))  # fmt: skip
    await feed.line("paid", **line_of(kids[3], AUTUMN, "living_allowance", categories=["monitored"]))
    # A household spanning two counties: a child of a county-1 village at a county-2 school.
    far = {**kids[1], "sid": str(uuid.uuid4()), "area_code": p.townships[2], "stage": "senior"}
    far["school_code"] = p.schools[(p.townships[2], "senior")]
    await feed.student(far["sid"], **{k: v for k, v in far.items() if k != "sid"})
    await feed.line("paid", **line_of(far, SPRING, "grant"))
    # Failed lines, and their re-payments (one arriving before its failure).
    for victim in paid[3:9:2]:
        await feed.line("failed", **{**victim, "id": victim["id"], "failure_reason": "账户已销户"})
        await feed.line("paid", **{**victim, "id": str(uuid.uuid4()), "repays_id": victim["id"]})
    early = paid[12]
    await feed.line("paid", **{**early, "id": str(uuid.uuid4()), "repays_id": early["id"]})
    await feed.send("edu.subsidy.disbursement.failed", {**early, "status": "failed"}, version=2)
    await feed.line("failed", **{**paid[20], "id": paid[20]["id"]})  # failed, never re-paid
    await feed.line("cancelled", **{**paid[25], "id": paid[25]["id"]})
    await feed.line("paid", **line_of(kids[30], f"{YEAR - 1}-autumn", "grant"))  # another year
    # A student leaves school; another transfers to another township's school.
    await feed.student(kids[4]["sid"], **{**{k: v for k, v in kids[4].items() if k != "sid"}, "status": "dropped_out"})  # fmt: skip
    moved = {
        **kids[6],
        "area_code": p.townships[0],
        "school_code": p.schools[(p.townships[0], kids[6]["stage"])],
    }
    await feed.student(moved["sid"], **{k: v for k, v in moved.items() if k != "sid"})
    # Student loans (read per group in one statement): three lenders, one of them unnamed, another
    # year's, children in two categories and in none, and a borrower the projection holds no row of.
    lenders = ("国家开发银行", "", "农村信用社")
    borrowers = [*kids[:14], {**kids[7], "sid": str(uuid.uuid4())}]
    for n, kid in enumerate(borrowers):
        loan = {
            "id": str(uuid.uuid4()),
            "student_id": kid["sid"],
            **{k: kid[k] for k in ("household_id", "area_code", "school_code", "village_code", "stage")},
            "categories": kid["categories"],
            "loan_kind": ("national", "origin_credit")[n % 2],
            "year": YEAR if n % 5 else YEAR - 1,
            "amount_fen": 800_000 + n,
            "lender": lenders[n % 3],
            "repayment_status": "in_school",
        }
        await feed.send("edu.subsidy.loan.recorded", loan)


def same(got: dict | None, want: dict) -> bool:
    """Equal, and of the same JSON types (an integer, never a Decimal that prints as a string)."""
    return got == want and json.dumps(got, sort_keys=True, default=repr) == json.dumps(
        want, sort_keys=True, default=repr
    )


def scopes(p: Province) -> list[FigureScope]:
    def principal(role: Role, area: str, school: str | None = None) -> Principal:
        return Principal("t", f"{role}-{area}", role, area, school_code=school)

    out = []
    for area in [p.code, *p.counties, p.townships[0]]:
        for basis in ("school", "household"):
            out.append(FigureScope(principal(Role.county, area), area, None, basis=basis))
    school = p.schools[(p.townships[0], "primary")]
    out.append(FigureScope(principal(Role.county, p.counties[0]), p.counties[0], school))
    out.append(FigureScope(principal(Role.school, p.townships[0], school), p.townships[0], None))
    out.append(FigureScope(principal(Role.village, p.villages[0]), p.villages[0], None))
    return out


async def test_rollups_equal_the_scan_and_their_rebuild(maker):
    p = Province()
    await build(Feeder(maker), p)
    checked = 0
    async with maker() as session:
        for scope in scopes(p):
            for year, semester in ((YEAR, None), (None, SPRING), (None, AUTUMN), (YEAR, AUTUMN)):
                want = await scan.subsidy(session, scope, year=year, semester=semester)
                got = await rollups.subsidy(session, scope, year=year, semester=semester)
                assert same(got, want), (scope, year, semester)
                checked += 1
            want = await scan.enrollment(session, scope, semester=None)
            assert same(await rollups.enrollment(session, scope), want), scope
            for dim in DIMS:
                values = await group_values(session, scope, dim)
                assert values, (scope, dim)
                got = await rollups.subsidy_groups(session, scope, dim, values, year=YEAR, semester=None)
                assert got is not None
                for v in values:
                    want = await scan.subsidy(session, scope.of_group(dim, v), year=YEAR, semester=None)
                    assert same(got[v], want), (scope, dim, v)
                got = await rollups.subsidy_groups(session, scope, dim, values, year=None, semester=SPRING)
                for v in values:
                    want = await scan.subsidy(session, scope.of_group(dim, v), year=None, semester=SPRING)
                    assert same(got[v], want), (scope, dim, v, SPRING)
                got = await rollups.enrollment_groups(session, scope, dim, values)
                for v in values:
                    want = await scan.enrollment(session, scope.of_group(dim, v), semester=None)
                    assert same(got[v], want), (scope, dim, v, "enrollment")
                    checked += 1
        # The world is varied enough to matter: movers, spanning households, figures not all zero.
        whole = await scan.subsidy(session, scopes(p)[0], year=YEAR, semester=None)
        assert whole["students"] > 30 and whole["households"] == 10 and whole["by_hardship_level"]
        movers = await session.scalar(
            text("SELECT count(*) FROM statistics.payment_member WHERE NOT sole AND area_code ^@ :p"),
            {"p": p.code},
        )
        assert movers >= 6
        assert (await rollups.enrollment(session, scopes(p)[0]))["households_by_category"]
        assert whole["loans"]["count"] >= 10 and len(whole["loans"]["by_lender"]) == 3
    assert checked > 200

    async def snapshot() -> dict:
        async with maker() as session:
            out = {}
            for table, columns in ROLLUPS.items():
                codes = "coalesce(area_code, '') ^@ :p OR coalesce(village_code, '') ^@ :p"
                rows = await session.execute(
                    text(f"SELECT {columns} FROM statistics.{table} WHERE {codes} ORDER BY {columns}"),  # noqa: S608
                    {"p": p.code},
                )
                out[table] = [tuple(r) for r in rows]
            return out

    kept = await snapshot()
    assert all(kept.values())
    async with maker() as session:
        await session.execute(text("SELECT statistics.rebuild_rollups()"))
        await session.commit()
    assert await snapshot() == kept
