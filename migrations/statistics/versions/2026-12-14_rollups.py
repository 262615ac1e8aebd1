# ruff: noqa: S608 - the SQL is built from this module's own constants
"""rollups of the subsidy and enrollment figures, kept by statement triggers on the facts (issue 17)

Revision ID: a17r00000001
Revises: a14s00000007
Create Date: 2026-12-14 09:00:00+00:00

Tables (services/statistics/figures/rollups.py says how the figures read them):

- payment_cell: paid lines summed by year, semester, area, village, school, stage, categories, policy
  kind and hardship level: lines (person-times), amount and funding shares, exact integer fen.
- payment_member: one row per year, student and place (area, village, school, stage, categories,
  household) of the student's paid lines that year: which semesters, policy kinds and hardship levels
  it was paid under; `sole` when it is the student's only place that year (nearly every child).
- payment_person: the sole members counted by place and signature (semesters, kinds, levels): distinct
  persons are the sum of these plus a COUNT(DISTINCT) over the few non-sole members (movers).
- payment_household: one row per year and household paid: its semesters and the common prefix of its
  lines' area codes and village codes (a household wholly inside an area counts once without a
  DISTINCT; the few spanning areas are counted distinctly from their members).
- enrollment_cell: students at school now (enrolled or home-taught) by area, village, school, stage,
  categories and compulsory flag.
- enrollment_household: households with a child at school now of some category: the union of those
  children's categories and the common prefixes of their area and village codes.

The triggers (statistics.payments_changed, statistics.students_changed) are statement-level with
transition tables, so a bulk upsert is applied set-wise, in the same transaction as the facts. They
upsert the shared rollup rows in key order, so two consumers applying at once (per-event and bulk) wait
for each other rather than deadlock.
statistics.rebuild_rollups() recomputes every rollup from the facts set-wise. A transaction that sets
`nol.rollups` to `off` (a projection rebuild emptying the facts) skips them; it empties the rollups itself.
"""

from collections.abc import Sequence

from alembic import op

from services.kit.rls import rows, unwall_ddl, wall_ddl

revision: str = "a17r00000001"
down_revision: str | None = "a14s00000007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

S = "statistics"
PLACE = """
    area_code varchar(12), village_code varchar(12), school_code varchar(10), stage varchar(20),
    categories varchar(30)[] NOT NULL DEFAULT '{}'"""

TABLES = f"""
CREATE TABLE {S}.payment_cell (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year integer NOT NULL, semester varchar(12) NOT NULL, {PLACE},
    policy_kind varchar(20), hardship_level varchar(20),
    lines bigint NOT NULL, amount_fen bigint NOT NULL, central_fen bigint NOT NULL,
    provincial_fen bigint NOT NULL, county_fen bigint NOT NULL,
    CONSTRAINT uq_payment_cell UNIQUE NULLS NOT DISTINCT
        (year, semester, area_code, village_code, school_code, stage, categories, policy_kind, hardship_level)
);
CREATE INDEX ix_payment_cell_area ON {S}.payment_cell (year, area_code text_pattern_ops);
CREATE INDEX ix_payment_cell_village ON {S}.payment_cell (year, village_code text_pattern_ops);
CREATE INDEX ix_payment_cell_school ON {S}.payment_cell (school_code);
CREATE INDEX ix_payment_cell_empty ON {S}.payment_cell (id) WHERE lines = 0;

CREATE TABLE {S}.payment_member (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year integer NOT NULL, student_id uuid NOT NULL, household_id uuid, {PLACE},
    sems smallint NOT NULL,
    kinds varchar(20)[] NOT NULL, kinds_spring varchar(20)[] NOT NULL, kinds_autumn varchar(20)[] NOT NULL,
    levels varchar(20)[] NOT NULL, levels_spring varchar(20)[] NOT NULL,
    levels_autumn varchar(20)[] NOT NULL,
    sole boolean NOT NULL
);
CREATE INDEX ix_payment_member_student ON {S}.payment_member (year, student_id);
CREATE INDEX ix_payment_member_household ON {S}.payment_member (year, household_id);
CREATE INDEX ix_payment_member_area ON {S}.payment_member (year, area_code text_pattern_ops);
CREATE INDEX ix_payment_member_village ON {S}.payment_member (year, village_code text_pattern_ops);
CREATE INDEX ix_payment_member_school ON {S}.payment_member (school_code);
CREATE INDEX ix_payment_member_movers ON {S}.payment_member (year) WHERE NOT sole;

CREATE TABLE {S}.payment_person (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    year integer NOT NULL, {PLACE},
    sems smallint NOT NULL,
    kinds varchar(20)[] NOT NULL, kinds_spring varchar(20)[] NOT NULL, kinds_autumn varchar(20)[] NOT NULL,
    levels varchar(20)[] NOT NULL, levels_spring varchar(20)[] NOT NULL,
    levels_autumn varchar(20)[] NOT NULL,
    students bigint NOT NULL,
    CONSTRAINT uq_payment_person UNIQUE NULLS NOT DISTINCT
        (year, area_code, village_code, school_code, stage, categories, sems, kinds, kinds_spring,
         kinds_autumn, levels, levels_spring, levels_autumn)
);
CREATE INDEX ix_payment_person_area ON {S}.payment_person (year, area_code text_pattern_ops);
CREATE INDEX ix_payment_person_village ON {S}.payment_person (year, village_code text_pattern_ops);
CREATE INDEX ix_payment_person_school ON {S}.payment_person (school_code);
CREATE INDEX ix_payment_person_empty ON {S}.payment_person (id) WHERE students = 0;

CREATE TABLE {S}.payment_household (
    year integer NOT NULL, household_id uuid NOT NULL,
    area_code varchar(12) NOT NULL, village_code varchar(12) NOT NULL, sems smallint NOT NULL,
    PRIMARY KEY (year, household_id)
);
CREATE INDEX ix_payment_household_area ON {S}.payment_household (year, area_code text_pattern_ops);
CREATE INDEX ix_payment_household_village ON {S}.payment_household (year, village_code text_pattern_ops);

CREATE TABLE {S}.enrollment_cell (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    {PLACE}, compulsory boolean NOT NULL, students bigint NOT NULL,
    CONSTRAINT uq_enrollment_cell UNIQUE NULLS NOT DISTINCT
        (area_code, village_code, school_code, stage, categories, compulsory)
);
CREATE INDEX ix_enrollment_cell_area ON {S}.enrollment_cell (area_code text_pattern_ops);
CREATE INDEX ix_enrollment_cell_village ON {S}.enrollment_cell (village_code text_pattern_ops);
CREATE INDEX ix_enrollment_cell_school ON {S}.enrollment_cell (school_code);
CREATE INDEX ix_enrollment_cell_empty ON {S}.enrollment_cell (id) WHERE students = 0;

CREATE TABLE {S}.enrollment_household (
    household_id uuid PRIMARY KEY,
    area_code varchar(12) NOT NULL, village_code varchar(12) NOT NULL,
    categories varchar(30)[] NOT NULL
);
CREATE INDEX ix_enrollment_household_area ON {S}.enrollment_household (area_code text_pattern_ops);
CREATE INDEX ix_enrollment_household_village ON {S}.enrollment_household (village_code text_pattern_ops);
"""

HELPERS = f"""
CREATE TYPE {S}.year_key AS (year integer, id uuid);
-- The common prefix of two codes (of a set of codes: of its least and greatest, in byte order).
CREATE FUNCTION {S}.common_prefix(a text, b text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT CASE WHEN a IS NULL OR b IS NULL THEN '' ELSE left(a, coalesce((
        SELECT min(i) - 1 FROM generate_series(1, least(length(a), length(b))) AS i
        WHERE substr(a, i, 1) <> substr(b, i, 1)), least(length(a), length(b)))) END
$$;
CREATE FUNCTION {S}.sorted(a anyarray) RETURNS anyarray
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT x ORDER BY x) FILTER (WHERE x IS NOT NULL), '{{}}') FROM unnest(a) x
$$;
CREATE AGGREGATE {S}.concat_agg(anycompatiblearray) (
    SFUNC = array_cat, STYPE = anycompatiblearray, INITCOND = '{{}}'
);
"""

CODES = ("area_code", "village_code")


def prefix_of(table: str, column: str) -> str:
    """SQL: the common prefix of a group's codes ('' when one is missing)."""
    low, high = f'min({table}.{column} COLLATE "C")', f'max({table}.{column} COLLATE "C")'
    return (
        f"CASE WHEN count({table}.{column}) < count(*) THEN '' WHEN {low} = {high} THEN {low} "
        f"ELSE {S}.common_prefix({low}, {high}) END"
    )


def cells(source: str) -> str:
    """SELECT: paid lines of `source` (rows with a `k` of +1 / -1) summed by cell."""
    return f"""
    SELECT year, semester, area_code, village_code, school_code, stage, categories, policy_kind,
           hardship_level, sum(k), sum(k * amount_fen),
           sum(k * coalesce((shares ->> 'central')::bigint, 0)),
           sum(k * coalesce((shares ->> 'provincial')::bigint, 0)),
           sum(k * CASE WHEN shares IS NULL THEN amount_fen
                        ELSE coalesce((shares ->> 'county')::bigint, 0) END)
    FROM {source} d
    GROUP BY year, semester, area_code, village_code, school_code, stage, categories, policy_kind,
             hardship_level
    ORDER BY year, semester, area_code, village_code, school_code, stage, categories, policy_kind,
             hardship_level"""


CELL_COLUMNS = """year, semester, area_code, village_code, school_code, stage, categories, policy_kind,
    hardship_level, lines, amount_fen, central_fen, provincial_fen, county_fen"""
MEMBER_COLUMNS = """year, student_id, household_id, area_code, village_code, school_code, stage, categories,
    sems, kinds, kinds_spring, kinds_autumn, levels, levels_spring, levels_autumn, sole"""
SIGNATURE = """year, area_code, village_code, school_code, stage, categories, sems, kinds, kinds_spring,
    kinds_autumn, levels, levels_spring, levels_autumn"""


def members(join: str) -> str:
    """SELECT: the members of the students `join` names, from their paid lines."""

    def listed(column: str, term: str = "") -> str:
        only = f" AND p.semester LIKE '%-{term}'" if term else ""
        return (
            f"coalesce(array_agg(DISTINCT p.{column} ORDER BY p.{column}) "
            f"FILTER (WHERE p.{column} IS NOT NULL{only}), '{{}}')"
        )

    return f"""
    SELECT p.year, p.student_id, p.household_id, p.area_code, p.village_code, p.school_code, p.stage,
           p.categories,
           (max(CASE WHEN p.semester LIKE '%-spring' THEN 1 ELSE 0 END)
            + max(CASE WHEN p.semester LIKE '%-autumn' THEN 2 ELSE 0 END))::smallint,
           {listed("policy_kind")}, {listed("policy_kind", "spring")}, {listed("policy_kind", "autumn")},
           {listed("hardship_level")}, {listed("hardship_level", "spring")},
           {listed("hardship_level", "autumn")},
           count(*) OVER (PARTITION BY p.year, p.student_id) = 1
    FROM {S}.payment_fact p {join}
    WHERE p.status = 'paid'
    GROUP BY p.year, p.student_id, p.household_id, p.area_code, p.village_code, p.school_code, p.stage,
             p.categories"""


def households(source: str, join: str = "") -> str:
    """SELECT: the households of the members in `source`, their semesters and common prefixes."""
    return f"""
    SELECT m.year, m.household_id, {prefix_of("m", "area_code")}, {prefix_of("m", "village_code")},
           bit_or(m.sems)
    FROM {source} m {join}
    WHERE m.household_id IS NOT NULL
    GROUP BY m.year, m.household_id"""


def homes(where: str) -> str:
    """SELECT: households with a child at school now of some category, from the students."""
    return f"""
    SELECT s.household_id, {prefix_of("s", "area_code")}, {prefix_of("s", "village_code")},
           {S}.sorted({S}.concat_agg(s.categories))
    FROM {S}.student_fact s
    WHERE s.household_id IS NOT NULL AND s.status IN ('enrolled', 'home_taught') AND {where}
    GROUP BY s.household_id
    HAVING bool_or(cardinality(s.categories) > 0)"""


ENROLLED_CELLS = """
    SELECT area_code, village_code, school_code, stage, categories, compulsory, sum(k)
    FROM {source} d
    GROUP BY area_code, village_code, school_code, stage, categories, compulsory
    HAVING sum(k) <> 0
    ORDER BY area_code, village_code, school_code, stage, categories, compulsory"""


def changed(kind: str) -> str:
    """SQL: the statement-level triggers of `{kind}` facts (payments, students) and their function, which
    hands the rows that left and came to `apply_{kind}` (nothing while `nol.rollups` is off)."""
    table = f"{S}.{kind[:-1]}_fact"
    gone, came = f"ARRAY(SELECT ROW(g.*)::{table} FROM gone g)", f"ARRAY(SELECT ROW(n.*)::{table} FROM came n)"
    return f"""CREATE FUNCTION {S}.{kind}_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF current_setting('nol.rollups', true) = 'off' THEN
        RETURN NULL;
    END IF;
    IF TG_OP = 'INSERT' THEN
        PERFORM {S}.apply_{kind}('{{}}'::{table}[], {came});
    ELSIF TG_OP = 'UPDATE' THEN
        PERFORM {S}.apply_{kind}({gone}, {came});
    ELSE
        PERFORM {S}.apply_{kind}({gone}, '{{}}'::{table}[]);
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER {kind}_inserted AFTER INSERT ON {table}
    REFERENCING NEW TABLE AS came FOR EACH STATEMENT EXECUTE FUNCTION {S}.{kind}_changed();
CREATE TRIGGER {kind}_updated AFTER UPDATE ON {table}
    REFERENCING OLD TABLE AS gone NEW TABLE AS came FOR EACH STATEMENT EXECUTE FUNCTION {S}.{kind}_changed();
CREATE TRIGGER {kind}_deleted AFTER DELETE ON {table}
    REFERENCING OLD TABLE AS gone FOR EACH STATEMENT EXECUTE FUNCTION {S}.{kind}_changed();
"""

PAYMENTS = f"""
CREATE FUNCTION {S}.refresh_members(keys {S}.year_key[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE touched {S}.year_key[];
BEGIN
    -- The students' members, recomputed from their lines; the persons moved by the difference.
    WITH gone AS (
        DELETE FROM {S}.payment_member m USING unnest(keys) k
        WHERE m.year = k.year AND m.student_id = k.id RETURNING m.*
    ), came AS (
        INSERT INTO {S}.payment_member ({MEMBER_COLUMNS})
        {members("JOIN unnest(keys) k ON p.student_id = k.id AND p.year = k.year")}
        RETURNING *
    ), persons AS (
        INSERT INTO {S}.payment_person AS r ({SIGNATURE}, students)
        SELECT {SIGNATURE}, sum(k) FROM (
            SELECT -1 AS k, g.* FROM gone g WHERE g.sole UNION ALL SELECT 1, c.* FROM came c WHERE c.sole) d
        GROUP BY {SIGNATURE}
        HAVING sum(k) <> 0
        ORDER BY {SIGNATURE}
        ON CONFLICT ON CONSTRAINT uq_payment_person DO UPDATE SET students = r.students + excluded.students
    )
    SELECT ARRAY(SELECT DISTINCT ROW(year, household_id)::{S}.year_key FROM (
        SELECT year, household_id FROM gone UNION ALL SELECT year, household_id FROM came) t
        WHERE household_id IS NOT NULL) INTO touched;
    DELETE FROM {S}.payment_person WHERE students = 0;
    DELETE FROM {S}.payment_household h USING unnest(touched) k
    WHERE h.year = k.year AND h.household_id = k.id;
    INSERT INTO {S}.payment_household (year, household_id, area_code, village_code, sems)
    {
    households(f"{S}.payment_member", "JOIN unnest(touched) k ON m.year = k.year AND m.household_id = k.id")
};
END
$$;

CREATE FUNCTION {S}.apply_payments(gone {S}.payment_fact[], came {S}.payment_fact[]) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- Lines and money: the paid lines that left (-1) and came (+1), added to their cells.
    INSERT INTO {S}.payment_cell AS c ({CELL_COLUMNS})
    {
    cells(
        "(SELECT -1 AS k, g.* FROM unnest(gone) g WHERE g.status = 'paid' "
        "UNION ALL SELECT 1, n.* FROM unnest(came) n WHERE n.status = 'paid')"
    )
}
    ON CONFLICT ON CONSTRAINT uq_payment_cell DO UPDATE SET
        lines = c.lines + excluded.lines, amount_fen = c.amount_fen + excluded.amount_fen,
        central_fen = c.central_fen + excluded.central_fen,
        provincial_fen = c.provincial_fen + excluded.provincial_fen,
        county_fen = c.county_fen + excluded.county_fen;
    DELETE FROM {S}.payment_cell WHERE lines = 0;
    PERFORM {S}.refresh_members(ARRAY(
        SELECT DISTINCT ROW(year, student_id)::{S}.year_key FROM (
            SELECT year, student_id FROM unnest(gone) UNION ALL SELECT year, student_id FROM unnest(came)) t));
END
$$;

{changed('payments')}"""

STUDENTS = f"""
CREATE FUNCTION {S}.apply_students(gone {S}.student_fact[], came {S}.student_fact[]) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE touched uuid[];
BEGIN
    INSERT INTO {S}.enrollment_cell AS c (area_code, village_code, school_code, stage, categories,
        compulsory, students)
    {
    ENROLLED_CELLS.format(
        source="(SELECT -1 AS k, g.* FROM unnest(gone) g WHERE g.status IN ('enrolled', 'home_taught') "
        "UNION ALL SELECT 1, n.* FROM unnest(came) n "
        "WHERE n.status IN ('enrolled', 'home_taught'))"
    )
}
    ON CONFLICT ON CONSTRAINT uq_enrollment_cell DO UPDATE SET students = c.students + excluded.students;
    DELETE FROM {S}.enrollment_cell WHERE students = 0;
    touched := ARRAY(SELECT DISTINCT household_id FROM (
        SELECT household_id FROM unnest(gone) UNION ALL SELECT household_id FROM unnest(came)) t
        WHERE household_id IS NOT NULL);
    DELETE FROM {S}.enrollment_household h WHERE h.household_id = ANY(touched);
    INSERT INTO {S}.enrollment_household (household_id, area_code, village_code, categories)
    {homes("s.household_id = ANY(touched)")};
END
$$;

{changed('students')}"""

REBUILD = f"""
CREATE FUNCTION {S}.rebuild_rollups() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    -- No fact changes while the rollups are recomputed (writers wait; readers do not).
    LOCK TABLE {S}.payment_fact, {S}.student_fact IN SHARE MODE;
    DELETE FROM {S}.payment_cell;
    DELETE FROM {S}.payment_member;
    DELETE FROM {S}.payment_person;
    DELETE FROM {S}.payment_household;
    DELETE FROM {S}.enrollment_cell;
    DELETE FROM {S}.enrollment_household;
    INSERT INTO {S}.payment_cell ({CELL_COLUMNS})
    {cells(f"(SELECT 1 AS k, p.* FROM {S}.payment_fact p WHERE p.status = 'paid')")};
    INSERT INTO {S}.payment_member ({MEMBER_COLUMNS}) {members("")};
    INSERT INTO {S}.payment_person ({SIGNATURE}, students)
    SELECT {SIGNATURE}, count(*) FROM {S}.payment_member WHERE sole GROUP BY {SIGNATURE};
    INSERT INTO {S}.payment_household (year, household_id, area_code, village_code, sems)
    {households(f"{S}.payment_member")};
    INSERT INTO {S}.enrollment_cell (area_code, village_code, school_code, stage, categories, compulsory,
        students)
    {
    ENROLLED_CELLS.format(
        source=f"(SELECT 1 AS k, s.* FROM {S}.student_fact s WHERE s.status IN ('enrolled', 'home_taught'))"
    )
};
    INSERT INTO {S}.enrollment_household (household_id, area_code, village_code, categories) {homes("true")};
END
$$;
"""

ROLLUPS = (
    "payment_cell",
    "payment_member",
    "payment_person",
    "payment_household",
    "enrollment_cell",
    "enrollment_household",
)
# The usual wall of a record; a household's codes are the common prefix of its children's.
WALLS = {table: rows("area_code", "school_code", "village_code") for table in ROLLUPS[:3] + ROLLUPS[4:5]}
WALLS |= {t: rows("area_code", None, "village_code") for t in ("payment_household", "enrollment_household")}


def statements(sql: str) -> list[str]:
    """The statements of a script, one by one (a `;` ending a line outside a $$ body ends one)."""
    out, current, inside = [], [], False
    for line in sql.splitlines():
        current.append(line)
        inside ^= line.count("$$") % 2 == 1
        if not inside and line.rstrip().endswith(";"):
            out.append("\n".join(current).strip().rstrip(";"))
            current = []
    if "\n".join(current).strip():
        out.append("\n".join(current).strip())
    return out


def upgrade() -> None:
    for sql in (TABLES, HELPERS, PAYMENTS, STUDENTS, REBUILD):
        for stmt in statements(sql):
            op.execute(stmt)
    for table, wall in WALLS.items():
        for stmt in wall_ddl(S, table, wall):
            op.execute(stmt)
    op.execute(f"SELECT {S}.rebuild_rollups()")  # the facts already projected


def downgrade() -> None:
    for table in ("payment_fact", "student_fact"):
        for op_ in ("inserted", "updated", "deleted"):
            prefix = "payments" if table == "payment_fact" else "students"
            op.execute(f"DROP TRIGGER IF EXISTS {prefix}_{op_} ON {S}.{table}")
    for fn in (
        "rebuild_rollups()",
        "students_changed()",
        f"apply_students({S}.student_fact[], {S}.student_fact[])",
        "payments_changed()",
        f"apply_payments({S}.payment_fact[], {S}.payment_fact[])",
        f"refresh_members({S}.year_key[])",
        "sorted(anyarray)",
        "common_prefix(text, text)",
    ):
        op.execute(f"DROP FUNCTION IF EXISTS {S}.{fn}")
    op.execute(f"DROP AGGREGATE IF EXISTS {S}.concat_agg(anycompatiblearray)")
    op.execute(f"DROP TYPE IF EXISTS {S}.year_key")
    for table in ROLLUPS:
        for stmt in unwall_ddl(S, table):
            op.execute(stmt)
        op.drop_table(table, schema=S)
