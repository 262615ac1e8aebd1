"""The second wall: row-level security keeps a query that forgets its scope filter inside the caller's area.

Two fresh counties get one row of their own in every walled table of every service (written as the
owner, who is not walled). Then, as each service's own role and through the kit's sessions, a
deliberately unscoped `SELECT * FROM <table>` runs in a county user's scope: it must return the
county's rows and none of the other's; the system context (consumers, jobs) must still see both.
The walled tables are read from the database (every `wall` policy), so a table walled later is
covered too.
"""

import re
import secrets
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from services.contracts.calendar import today as local_today
from services.kit.auth import Principal, Role
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.rls import SYSTEM, acting_as, scope_for
from services.kit.settings import SERVICES, Settings
from tests import conftest
from tests.helpers import World

# Tables every service must wall (the test also covers any other table with a `wall` policy).
EXPECTED = {
    "registry": {
        "student",
        "enrollment_change",
        "household",
        "school",
        "area",
        "import_job",
        "transfer_request",
        "change",
    },
    "subsidy": {
        "student",
        "batch",
        "disbursement",
        "batch_step",
        "exclusion",
        "objection",
        "notice_ack",
        "hardship",
        "payee",
        "reconciliation",
        "change",
    },
    "dropout": {
        "student",
        "absence",
        "task",
        "dropout_case",
        "case_action",
        "placement",
        "verification",
        "outside_roster",
        "outside_finding",
        "evidence",
        "pairing",
        "support_record",
        "support_campaign",
        "responsible_person",
        "responsibility_letter",
        "legal_step",
        "change",
    },
    "statistics": {
        "student_fact",
        "payment_fact",
        "case_fact",
        "household_fact",
        "verification",
        "notice_fact",
        "hardship_fact",
        "payment_cell",
        "payment_member",
        "payment_person",
        "payment_household",
        "enrollment_cell",
        "enrollment_household",
    },
}
# Values the CHECK constraints accept.
OVERRIDES = {
    **{(svc, "change"): {"op": "upsert"} for svc in ("registry", "dropout", "subsidy")},  # kit.changes
    ("subsidy", "batch"): {"kind": "regular", "status": "draft"},
    ("subsidy", "disbursement"): {
        "kind": "regular",
        "status": "draft",
        "amount_fen": 100,
        "paid_on": None,
        "failure_reason": None,
        "repays_id": None,
    },
    ("subsidy", "payee"): {"account_kind": "bank_card"},
    ("subsidy", "policy"): {"amount_fen": 100, "is_current": True},
    ("subsidy", "hardship"): {"level": "hard", "status": "proposed"},
}
# Rows that copy their student's codes (a trigger) need a real student of the county.
FOLLOWERS = {
    ("dropout", t, "student_id"): ("dropout", "student", "id")
    for t in (
        "dropout_case",
        "placement",
        "home_teaching_session",
        "pairing",
        "responsible_person",
        "responsibility_letter",
    )
}
PARENT = re.compile(r"FROM (\w+)\.(\w+) p WHERE \(p\.(\w+) = \w+\.(\w+)\)")


class County:
    """The codes of one county: the county, a township, a village and a school."""

    def __init__(self, code: str):
        self.code = code
        self.township = code + "101"
        self.village = code + "101201"
        self.school = "21" + code + "01"
        self.rows: dict[tuple[str, str], dict[str, Any]] = {}  # one row per walled (or parent) table

    def principal(self, role: Role) -> Principal:
        area = {Role.county: self.code, Role.school: self.township, Role.village: self.village}[role]
        school = self.school if role is Role.school else None
        return Principal("t", f"{role}-{self.code}", role, area, school_code=school)


@pytest.fixture(scope="module")
def settings(stack) -> Settings:
    return Settings(
        database_url=stack.env["NOL_DATABASE_URL"], db_role_password=stack.env.get("NOL_DB_ROLE_PASSWORD")
    )


async def walled(db) -> dict[tuple[str, str], tuple[str, str, str, str] | None]:
    """Every walled table, with its parent (schema, table, key, column) when its wall is its parent's."""
    rows = await db.fetch(
        "SELECT schemaname, tablename, qual FROM pg_policies WHERE policyname = 'wall' "
        "AND schemaname = ANY($1::text[])",
        list(SERVICES),
    )
    out = {}
    for r in rows:
        qual = " ".join(r["qual"].split())
        m = PARENT.search(qual) if "THEN true ELSE (EXISTS" in qual else None
        out[(r["schemaname"], r["tablename"])] = m.groups() if m else None
    return out


async def columns(db, schema: str, table: str) -> list[asyncpg.Record]:
    return await db.fetch(
        "SELECT column_name, data_type, udt_name, is_nullable, column_default, character_maximum_length, "
        "is_identity FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2 "
        "ORDER BY ordinal_position",
        schema,
        table,
    )


async def foreign_keys(db) -> dict[tuple[str, str, str], tuple[str, str, str]]:
    rows = await db.fetch(
        """
        SELECT cn.nspname AS s, c.relname AS t, a.attname AS col, pn.nspname AS ps, p.relname AS pt,
               pa.attname AS pcol
        FROM pg_constraint k
        JOIN pg_class c ON c.oid = k.conrelid JOIN pg_namespace cn ON cn.oid = c.relnamespace
        JOIN pg_class p ON p.oid = k.confrelid JOIN pg_namespace pn ON pn.oid = p.relnamespace
        JOIN pg_attribute a ON a.attrelid = k.conrelid AND a.attnum = k.conkey[1]
        JOIN pg_attribute pa ON pa.attrelid = k.confrelid AND pa.attnum = k.confkey[1]
        WHERE k.contype = 'f' AND cn.nspname = ANY($1::text[])
        """,
        list(SERVICES),
    )
    return {(r["s"], r["t"], r["col"]): (r["ps"], r["pt"], r["pcol"]) for r in rows}


def dummy(col: asyncpg.Record) -> Any:
    """A value of the column's type (unique enough for unique indexes)."""
    kind, udt = col["data_type"], col["udt_name"]
    if kind == "uuid":
        return uuid.uuid4()
    if kind in ("character varying", "text", "character"):
        return secrets.token_hex(8)[: col["character_maximum_length"] or 16]
    if kind in ("integer", "bigint", "smallint", "numeric"):
        return 1
    if kind == "boolean":
        return False
    if kind == "date":
        return local_today()
    if kind.startswith("timestamp"):
        return datetime.now(UTC)
    if kind in ("jsonb", "json"):
        return "{}"
    if kind == "ARRAY":
        return []
    if kind == "bytea":
        return b"x"
    raise AssertionError(f"no dummy value for {col['column_name']} ({kind} {udt})")


def scoped_value(name: str, county: County) -> str | None:
    """The county's code for a scope column (None: not a scope column)."""
    return {
        "area_code": county.township,
        "school_code": county.school,
        "village_code": county.village,
        # A transfer request is seen from both ends (registry.transfer_request).
        "from_area_code": county.township,
        "to_area_code": county.township,
        "from_school_code": county.school,
        "to_school_code": county.school,
    }.get(name)


async def fill(db, county: County, order: list[tuple[str, str]], parents: dict, fks: dict) -> None:
    """Insert one row of the county into each table, parents first."""
    for schema, table in order:
        values: dict[str, Any] = {}
        for col in await columns(db, schema, table):
            name = col["column_name"]
            if col["is_identity"] == "YES" or (col["column_default"] or "").startswith("nextval"):
                continue
            parent = fks.get((schema, table, name)) or parents.get((schema, table, name))
            override = OVERRIDES.get((schema, table), {})
            if parent and (parent[0], parent[1]) in county.rows:
                values[name] = county.rows[(parent[0], parent[1])][parent[2]]
            elif name in override:
                values[name] = override[name]
            elif scoped_value(name, county):
                values[name] = scoped_value(name, county)
            elif name == "code" and table == "area":
                values[name] = county.code
            elif name == "code" and table == "school":
                values[name] = county.school
            elif col["is_nullable"] == "NO" and col["column_default"] is None:
                values[name] = dummy(col)
            elif col["data_type"] == "uuid" and name == "id":
                values[name] = uuid.uuid4()
        if table == "household":  # a household's area is its village
            values["area_code"] = county.village
        names = list(values)
        casts = [
            f"${i + 1}::jsonb" if isinstance(values[n], str) and values[n] == "{}" else f"${i + 1}"
            for i, n in enumerate(names)
        ]
        row = await db.fetchrow(
            f'INSERT INTO {schema}."{table}" ({", ".join(names)}) VALUES ({", ".join(casts)}) RETURNING *',  # noqa: S608
            *values.values(),
        )
        county.rows[(schema, table)] = dict(row)


def fill_order(tables: dict, parents: dict, fks: dict) -> list[tuple[str, str]]:
    """The walled tables and their parents, each after the tables it points to."""
    deps: dict[tuple[str, str], set[tuple[str, str]]] = {}

    def add(t: tuple[str, str]) -> None:
        if t in deps:
            return
        deps[t] = set()
        for (s, tb, _), (ps, pt, _) in fks.items():
            if (s, tb) == t and (ps, pt) != t:
                deps[t].add((ps, pt))
        for (s, tb, _), (ps, pt, _) in parents.items():
            if (s, tb) == t:
                deps[t].add((ps, pt))
        for d in list(deps[t]):
            add(d)

    for t in tables:
        add(t)
    order: list[tuple[str, str]] = []
    while len(order) < len(deps):
        for t, d in sorted(deps.items()):
            if t not in order and d <= set(order):
                order.append(t)
    return order


@pytest.fixture(scope="module")
async def counties(owner_url: str):
    """Two fresh counties of their own province, each with a row in every walled table."""
    db = await asyncpg.connect(owner_url)
    try:
        tables = await walled(db)
        fks = await foreign_keys(db)
        parents = {(s, t, p[3]): (p[0], p[1], p[2]) for (s, t), p in tables.items() if p} | FOLLOWERS
        order = fill_order(tables, parents, fks)
        province = f"8{secrets.randbelow(10)}"
        taken = set()
        pair = []
        while len(pair) < 2:
            code = province + f"{secrets.randbelow(10000):04d}"
            if code not in taken:
                taken.add(code)
                pair.append(County(code))
        for county in pair:
            await fill(db, county, order, parents, fks)
        yield tables, pair
    finally:
        await db.close()


async def select_all(settings: Settings, service: str, table: str, scope) -> list[dict]:
    """`SELECT * FROM <service>.<table>`, no filter, as the service's role in a scope."""
    engine = make_engine(service_url(settings, service), pool_size=1)
    try:
        with acting_as(scope):
            async with sessionmaker_for(engine)() as session:
                rows = await (await session.connection()).execute(text(f'SELECT * FROM {service}."{table}"'))  # noqa: S608
                return [dict(r) for r in rows.mappings()]
    finally:
        await engine.dispose()


def key_of(row: dict) -> Any:
    for k in (
        "id",
        "student_id",
        "code",
        "disbursement_id",
        "case_id",
        "household_id",
        "event_id",
        "verification_id",
        "seq",  # a change feed's entry (kit.changes)
    ):
        if row.get(k) is not None:
            return (k, row[k])
    raise AssertionError(f"no key in {sorted(row)}")


def keys(rows: list[dict]) -> set:
    return {key_of(r) for r in rows}


async def test_every_service_walls_its_scoped_tables(counties):
    tables, _ = counties
    for service, expected in EXPECTED.items():
        found = {t for s, t in tables if s == service}
        assert expected <= found, f"{service}: not walled: {sorted(expected - found)}"


@pytest.mark.parametrize("service", SERVICES)
async def test_unscoped_select_stays_inside_the_county(settings, counties, service):
    """A county user's scope: every walled table answers its own county's rows, never the other's."""
    tables, (mine, other) = counties
    checked = 0
    for schema, table in sorted(t for t in tables if t[0] == service):
        rows = await select_all(settings, service, table, scope_for(mine.principal(Role.county)))
        got = keys(rows)
        assert key_of(mine.rows[(schema, table)]) in got, f"{schema}.{table}: own county's row missing"
        assert key_of(other.rows[(schema, table)]) not in got, f"{schema}.{table}: other county's row seen"
        for row in rows:  # and nothing from outside the county (other tests' data included)
            codes = [row.get(c) for c in ("area_code", "village_code", "code") if row.get(c)]
            if codes and table not in ("area",):
                assert any(c.startswith(mine.code) for c in codes), f"{schema}.{table}: {codes}"
        checked += 1
    assert checked >= len(EXPECTED[service])


@pytest.mark.parametrize("service", SERVICES)
async def test_system_context_sees_both_counties(settings, counties, service):
    """Consumers, relays and jobs (no caller) still see every row."""
    tables, pair = counties
    for schema, table in sorted(t for t in tables if t[0] == service):
        got = keys(await select_all(settings, service, table, SYSTEM))
        for county in pair:
            assert key_of(county.rows[(schema, table)]) in got, f"{schema}.{table} in {county.code}"


@pytest.mark.parametrize("role", [Role.school, Role.village])
@pytest.mark.parametrize(
    ("service", "table"),
    [
        ("registry", "student"),
        ("subsidy", "disbursement"),
        ("dropout", "absence"),
        ("statistics", "student_fact"),
    ],
)
async def test_school_and_village_users_see_their_own(settings, counties, role, service, table):
    """A school user is walled to its school, a village user to its village."""
    _, (mine, other) = counties
    rows = await select_all(settings, service, table, scope_for(mine.principal(role)))
    assert key_of(mine.rows[(service, table)]) in keys(rows)
    column, code = ("school_code", mine.school) if role is Role.school else ("village_code", mine.village)
    assert rows and all(r[column] == code for r in rows)
    assert key_of(other.rows[(service, table)]) not in keys(rows)


async def test_children_follow_their_parent(settings, counties):
    """A case, an enrollment step or a batch step is seen exactly where its parent is."""
    tables, (mine, other) = counties
    children = {t: p for t, p in tables.items() if p}
    assert len(children) >= 8
    for (schema, table), (pschema, ptable, key, column) in sorted(children.items()):
        scope = scope_for(mine.principal(Role.county))
        rows = await select_all(settings, schema, table, scope)
        parents = {r[key] for r in await select_all(settings, pschema, ptable, scope)}
        assert key_of(mine.rows[(schema, table)]) in keys(rows), f"{schema}.{table}"
        assert key_of(other.rows[(schema, table)]) not in keys(rows), f"{schema}.{table}"
        assert all(r[column] in parents for r in rows), f"{schema}.{table}: a row without a visible parent"


async def test_no_scope_no_rows(settings, counties):
    """A connection that never states a scope (not a kit session) sees nothing: the wall fails closed."""
    tables, _ = counties
    for service in SERVICES:
        conn = await asyncpg.connect(
            service_url(settings, service).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        try:
            for schema, table in (t for t in tables if t[0] == service):
                assert await conn.fetchval(f'SELECT count(*) FROM {schema}."{table}"') == 0  # noqa: S608
        finally:
            await conn.close()


async def test_writes_outside_the_scope_are_refused(settings, counties):
    """The policy checks new rows too: a county user cannot write a household into another county."""
    _, (mine, other) = counties
    engine = make_engine(service_url(settings, "registry"), pool_size=1)
    try:
        for county, allowed in ((mine, True), (other, False)):
            insert = text(
                "INSERT INTO registry.household (id, head_name, area_code, statuses, version) "
                "VALUES (:id, '户主', :area, '[]', 1)"
            )
            with acting_as(scope_for(mine.principal(Role.county))):
                async with sessionmaker_for(engine)() as session:
                    conn = await session.connection()
                    if allowed:
                        await conn.execute(insert, {"id": uuid.uuid4(), "area": county.village})
                        await session.rollback()
                        continue
                    with pytest.raises(DBAPIError, match="row-level security"):
                        await conn.execute(insert, {"id": uuid.uuid4(), "area": county.village})
    finally:
        await engine.dispose()


@pytest.fixture
async def neighbour(api, stack) -> World:
    """A second county of its own, beside `world`."""
    return await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)


class TestAcrossScopesOnPurpose:
    """The steps that look across scopes on purpose still work behind the wall (kit.rls.as_system)."""

    async def test_transfer_to_another_county(self, world: World, neighbour: World):
        county, other = world.users["county"], neighbour.users["county"]
        s = await world.student("primary", as_=county)
        asked = await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            202,
            json={
                "kind": "transfer",
                "effective_date": local_today().isoformat(),
                "details": {"school_code": neighbour.schools["primary"]["code"]},
            },
        )
        # Another county's school: a request that county accepts (services.registry.transfers).
        await other.ok("POST", f"/api/v1/transfers/{asked['transfer_request']['id']}/accept")
        moved = await other.ok("GET", f"/api/v1/students/{s['id']}")
        assert moved["enrollment"]["school_code"] == neighbour.schools["primary"]["code"]
        history = await other.ok("GET", f"/api/v1/students/{s['id']}/history")
        assert [h["kind"] for h in history["items"]] == ["enroll", "transfer"]
        assert (await county.get(f"/api/v1/students/{s['id']}")).status_code == 404

    async def test_duplicate_id_number_in_another_county_409_without_pointer(
        self, world: World, neighbour: World
    ):
        first = neighbour.student_body("primary")
        await neighbour.users["county"].ok("POST", "/api/v1/students", 201, json=first)
        again = world.student_body("primary", id_number=first["id_number"])
        resp = await world.users["county"].post("/api/v1/students", json=again)
        assert resp.status_code == 409
        # Found behind the wall (not merely refused by the unique index), and not pointed to.
        assert "registered elsewhere" in resp.json()["detail"] and "existing" not in resp.json()

    async def test_household_status_reaches_its_child_in_another_county(self, world: World, neighbour: World):
        county = world.users["county"]
        body = {"head_name": "王建国", "area_code": world.villages[0], "statuses": []}
        hh = await county.ok("POST", "/api/v1/households", 201, json=body)
        s = await world.student("primary", household_id=hh["id"], as_=county)
        asked = await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            202,
            json={
                "kind": "transfer",
                "effective_date": local_today().isoformat(),
                "details": {"school_code": neighbour.schools["primary"]["code"]},
            },
        )
        await neighbour.users["county"].ok(
            "POST", f"/api/v1/transfers/{asked['transfer_request']['id']}/accept"
        )
        await county.ok(
            "PATCH",
            f"/api/v1/households/{hh['id']}",
            json={"version": hh["version"], "statuses": [{"kind": "dibao", "since": "2026-01-01"}]},
        )
        child = await neighbour.users["county"].ok("GET", f"/api/v1/students/{s['id']}")
        assert child["categories"] == ["dibao"]
