"""Row-level security (the second wall): scoped list queries with the wall against the same without it.

    .venv/bin/python bench/rls.py [--students 200000] [--rounds 6] [--reps 25]

Starts an embedded PostgreSQL in a temp dir (no NATS, no services: this is the database's cost),
migrates it, and fills as the owner a province of 20 counties × 10 townships (a school each) × 5
villages: N students and their households (registry), the dropout service's copy of the students,
one absence each and a case (with an action) for one in ten (dropout), a batch per school and a
line per student (subsidy). Then, as each service's own role and through the kit's sessions,
it runs the list queries the API runs — built by the services' own code (`visible_to`,
`absence_scope`, `in_scope`, `lines_visible_to`, `kit.pagination.paginate`: the first page of 50)
— for a county, a township, a school and a village user, in rounds that alternate:

- wall: the service's role (row-level security applies), the caller's scope set in each
  transaction by the kit's session (what production runs);
- baseline: the same statements on the same tables as the owner, whom row-level security does not
  apply to (a superuser: the wall bypassed), in sessions that set no scope.

The two alternate sample by sample, so other work on the machine weighs on both alike. Each sample
is one whole transaction (begin, scope, query, end), as a request has. Prints p50/p95
per query and mode and the ratio wall/baseline at p50. Target (issue 7): ratio ≤ 1.10 at p50.
"""

import argparse
import asyncio
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import asyncpg
from sqlalchemy import select
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import load_average, machine, median, percentile, result
from deploy.embedded import EmbeddedPostgres
from deploy.migrate import upgrade
from services.dropout.absences.models import Absence
from services.dropout.absences.service import absence_scope
from services.dropout.cases.models import Case as DropoutCase
from services.dropout.cases.models import CaseAction
from services.dropout.cases.service import in_scope as cases_in_scope
from services.kit.auth import Principal, Role
from services.kit.db import make_engine, service_url, sessionmaker_for
from services.kit.pagination import paginate
from services.kit.rls import acting_as, scope_for, within
from services.kit.settings import Settings
from services.registry.households.models import Household
from services.registry.households.service import visible_to as households_visible_to
from services.registry.students.models import Student
from services.registry.students.service import visible_to as students_visible_to
from services.subsidy.batches.models import Disbursement
from services.subsidy.batches.service import lines_visible_to

COUNTY = "610101"
TOWNSHIP = COUNTY + "100"
VILLAGE = TOWNSHIP + "200"
SCHOOL = "21" + COUNTY + "00"
PAGE = 50

FILL = [
    """
    INSERT INTO registry.student (id, name, id_number_enc, id_number_hash, id_number_masked, gender,
        birth_date, student_number, household_id, village_code, groups, categories, school_code, area_code,
        stage, grade, boarding, status, warnings, version, updated_at)
    SELECT md5('s' || i)::uuid, '学生' || i, '\\x00'::bytea, md5('n' || i), c || '********0000', 'male',
           date '2015-01-01' + i % 1000, 'G' || i, md5('h' || (i / 2))::uuid,
           t || lpad((200 + (i / 200) % 5)::text, 3, '0'), '{}',
           CASE WHEN i % 4 = 0 THEN '{registered_poor}'::varchar[] ELSE '{}' END,
           '21' || c || lpad(((i / 20) % 10)::text, 2, '0'), t, 'primary', 1 + i % 6, i % 3 = 0,
           'enrolled', '{}', 1, now() - random() * interval '300 days'
    FROM (SELECT i, '6101' || lpad((1 + i % 20)::text, 2, '0') AS c FROM generate_series(0, $1 - 1) i) a,
         LATERAL (SELECT c || lpad((100 + (i / 20) % 10)::text, 3, '0') AS t) b
    """,
    """
    INSERT INTO registry.household (id, head_name, area_code, statuses, version, updated_at)
    SELECT DISTINCT ON (household_id) household_id, '户主', village_code, '[]', 1, updated_at
    FROM registry.student ORDER BY household_id, id
    """,
    """
    INSERT INTO dropout.student (id, name, status, groups, categories, version, updated_at, school_code,
        area_code, village_code, household_id)
    SELECT id, name, status, groups, categories, version, updated_at, school_code, area_code, village_code,
           household_id
    FROM registry.student
    """,
    """
    INSERT INTO dropout.absence (id, student_id, date, reason, recorded_by, version, school_code, area_code,
        village_code, updated_at)
    SELECT md5('a' || id)::uuid, id, date '2026-10-05' + (hashtext(id::text) & 3), 'unexplained', 'bench', 1,
           school_code, area_code, village_code, now() - random() * interval '300 days'
    FROM registry.student
    """,
    """
    INSERT INTO dropout.dropout_case (id, student_id, status, level, source, opened_on, level_since,
        opened_by, version, updated_at)
    SELECT md5('c' || id)::uuid, id, 'open', 'school', 'absence', date '2026-10-07', date '2026-10-07',
           'bench', 1, now() - random() * interval '300 days'
    FROM registry.student WHERE hashtext(id::text) % 10 = 0
    """,
    """
    INSERT INTO dropout.case_action (id, case_id, kind, occurred_at, actor, actor_role, level_after)
    SELECT md5('x' || id)::uuid, id, 'contact', now(), 'bench', 'school', 'school' FROM dropout.dropout_case
    """,
    """
    INSERT INTO subsidy.policy (id, code, revision, is_current, name, kind, stages, categories, boarding_only,
        non_boarders_only, amount_fen, years, area_code, created_by, version, rules)
    VALUES (md5('policy')::uuid, 'BENCH-LIVING', 1, true, '生活补助', 'living_allowance', '{primary}',
            '{registered_poor}', false, false, 62500, '{2026}', '61', 'bench', 1,
            jsonb_build_array(jsonb_build_object(  -- a flat policy's rule (policies.rules.legacy_rules)
                'code', 'STD', 'name', null, 'from_semester', '2026-spring', 'until_semester', '2026-autumn',
                'amount_fen', 62500, 'stages', '[]'::jsonb, 'grades', '[]'::jsonb, 'boarding', null,
                'new_entrant', null, 'categories', '[]'::jsonb, 'min_hardship_level', null, 'one_off', false,
                'shares', null)))
    """,
    """
    INSERT INTO subsidy.batch (id, kind, school_code, area_code, semester, policy_code, policy_id, status,
        line_count, excluded_count, generated_at, generated_by, version)
    SELECT DISTINCT ON (school_code) md5('b' || school_code)::uuid, 'regular', school_code, area_code,
           '2026-autumn', 'BENCH-LIVING', md5('policy')::uuid, 'draft', 0, 0, now(), 'bench', 1
    FROM registry.student ORDER BY school_code
    """,
    """
    INSERT INTO subsidy.disbursement (kind, batch_id, student_id, student_name, id_number_masked, school_code,
        area_code, village_code, boarding, categories, policy_code, policy_id, policy_kind, semester,
        amount_fen, status, version, updated_at)
    SELECT 'regular', md5('b' || school_code)::uuid, id, name, id_number_masked, school_code, area_code,
           village_code, boarding, categories, 'BENCH-LIVING', md5('policy')::uuid, 'living_allowance',
           '2026-autumn', 62500, 'draft', 1, now() - random() * interval '300 days'
    FROM registry.student
    """,
    "ANALYZE",
]


def caller(role: Role) -> Principal:
    area = {Role.county: COUNTY, Role.township: TOWNSHIP, Role.school: TOWNSHIP, Role.village: VILLAGE}[role]
    return Principal(
        "bench", f"bench-{role}", role, area, school_code=SCHOOL if role is Role.school else None
    )


def listing(model, where, order) -> Callable:
    async def run(session, principal: Principal) -> int:
        page = await paginate(
            session,
            select(model).where(where(principal)),
            order_by=order,
            limit=PAGE,
            cursor=None,
            key=lambda r: [r.updated_at, r.id],
        )
        return len(page["items"])

    return run


async def cases(session, principal: Principal) -> int:
    """The cases list: cases joined to their students, then the actions of the page (as the route)."""
    page = await paginate(
        session,
        cases_in_scope(principal),
        order_by=[DropoutCase.updated_at, DropoutCase.id],
        limit=PAGE,
        cursor=None,
        key=lambda r: [r[0].updated_at, r[0].id],
    )
    ids = [c.id for c, _ in page["items"]]
    await session.execute(select(CaseAction).where(CaseAction.case_id.in_(ids)))
    return len(ids)


async def students_of_a_township(session, principal: Principal) -> int:
    """A county user drilling down to one township (`?area_code=`)."""
    page = await paginate(
        session,
        select(Student).where(students_visible_to(principal), within(Student.area_code, TOWNSHIP)),
        order_by=[Student.updated_at, Student.id],
        limit=PAGE,
        cursor=None,
        key=lambda r: [r.updated_at, r.id],
    )
    return len(page["items"])


S, H, D, A = Student, Household, Disbursement, Absence
QUERIES: list[tuple[str, str, Role, Callable]] = [
    ("students, county", "registry", Role.county, listing(S, students_visible_to, [S.updated_at, S.id])),
    ("students, township", "registry", Role.township, listing(S, students_visible_to, [S.updated_at, S.id])),
    ("students, school", "registry", Role.school, listing(S, students_visible_to, [S.updated_at, S.id])),
    ("students, village", "registry", Role.village, listing(S, students_visible_to, [S.updated_at, S.id])),
    ("students of a township, county", "registry", Role.county, students_of_a_township),
    ("households, county", "registry", Role.county, listing(H, households_visible_to, [H.updated_at, H.id])),
    ("disbursements, county", "subsidy", Role.county, listing(D, lines_visible_to, [D.updated_at, D.id])),
    ("disbursements, school", "subsidy", Role.school, listing(D, lines_visible_to, [D.updated_at, D.id])),
    ("absences, county", "dropout", Role.county, listing(A, absence_scope, [A.updated_at, A.id])),
    ("absences, village", "dropout", Role.village, listing(A, absence_scope, [A.updated_at, A.id])),
    ("cases, county", "dropout", Role.county, cases),
    ("cases, school", "dropout", Role.school, cases),
]


async def measure(owner: str, settings: Settings, rounds: int, reps: int) -> dict:
    """Samples of each query, the modes alternating sample by sample (load on the machine hits both)."""
    services = ("registry", "subsidy", "dropout")
    walled_engines = {s: make_engine(service_url(settings, s), pool_size=1) for s in services}
    owner_engine = make_engine(make_url(owner).set(drivername="postgresql+asyncpg"), pool_size=1)
    makers = {
        "wall": {s: sessionmaker_for(e) for s, e in walled_engines.items()},
        "baseline": dict.fromkeys(services, sessionmaker_for(owner_engine, walled=False)),
    }
    samples: dict[tuple[str, str], list[float]] = {}
    try:
        for r in range(rounds + 1):  # round 0 warms caches and plans, and is not counted
            for name, service, role, query in QUERIES:
                principal = caller(role)
                with acting_as(scope_for(principal)):
                    for i in range(reps):
                        for mode in ("wall", "baseline") if i % 2 else ("baseline", "wall"):
                            t = time.perf_counter()
                            async with makers[mode][service]() as session:
                                rows = await query(session, principal)
                            if r:
                                samples.setdefault((name, mode), []).append(time.perf_counter() - t)
                            assert rows > 0, "the bench data should fill every page"
            print(f"round {r}/{rounds} done", flush=True)
    finally:
        for e in [*walled_engines.values(), owner_engine]:
            await e.dispose()
    return samples


def report(samples: dict, students: int) -> None:
    print(f"machine: {machine()}; load average {load_average()}")
    print(f"{students:,} students in 20 counties; first page of {PAGE}; each sample one whole transaction")
    print(f"{'query':<34}{'base p50':>10}{'wall p50':>10}{'base p95':>10}{'wall p95':>10}{'ratio':>8}")
    ratios = []
    for name, _, _, _ in QUERIES:
        base, wall = samples[(name, "baseline")], samples[(name, "wall")]
        ratio = median(wall) / median(base)
        ratios.append(ratio)
        print(
            f"{name:<34}{median(base) * 1000:>9.2f} {median(wall) * 1000:>9.2f} "
            f"{percentile(base, 95) * 1000:>9.2f} {percentile(wall, 95) * 1000:>9.2f} {ratio:>7.3f}"
        )
        result(
            "rls",
            f"{name}: p50 with the wall",
            median(wall) * 1000,
            "ms",
            ratio=ratio,
            baseline=f"RLS bypassed (owner), p50 {median(base) * 1000:.2f} ms",
            target="<= 1.10",
        )
    worst, overall = max(ratios), median(ratios)
    print(f"ratio at p50: median over queries {overall:.3f}, worst {worst:.3f} (target <= 1.10)")
    result("rls", "p50 ratio, median over the list queries", overall, "x", ratio=overall, target="<= 1.10")
    result("rls", "p50 ratio, worst list query", worst, "x", ratio=worst, target="<= 1.10")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--students", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=6, help="rounds per mode (plus one to warm up)")
    ap.add_argument("--reps", type=int, default=25, help="samples per query per round")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="nol-bench-rls-"))
    pg = EmbeddedPostgres(tmp)
    try:
        owner_sqlalchemy = pg.start()
        settings = Settings(database_url=owner_sqlalchemy, data_dir=tmp)
        upgrade(settings)
        owner = make_url(owner_sqlalchemy).set(drivername="postgresql").render_as_string(hide_password=False)

        async def go() -> dict:
            conn = await asyncpg.connect(owner)
            started = time.perf_counter()
            try:
                for stmt in FILL:
                    await conn.execute(stmt, args.students) if "$1" in stmt else await conn.execute(stmt)
            finally:
                await conn.close()
            print(f"filled in {time.perf_counter() - started:.1f} s", flush=True)
            return await measure(owner, settings, args.rounds, args.reps)

        samples = asyncio.run(go())
    finally:
        pg.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    report(samples, args.students)


if __name__ == "__main__":
    main()
