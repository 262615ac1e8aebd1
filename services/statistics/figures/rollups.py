"""The subsidy and enrollment figures read from the rollups, for one scope or every group of a breakdown
in one grouped query per part (migration a17r00000001 keeps the rollups in the facts' transaction).

Subsidy (a year, or a semester):
- person-times, amounts and funding shares: sums of `payment_cell`;
- persons: a student paid at one place all year (a sole member: nearly every child) counts once in
  `payment_person`, by place and signature (semesters, policy kinds, hardship levels), so persons by
  stage, semester, kind, level or category are sums; the few students paid at several places in the
  year (movers, a stage or category changed, ...) are counted with COUNT(DISTINCT) over their members;
- households: for a whole area (or a household-basis area) a household whose lines all lie inside it
  counts once from `payment_household` (the common prefix of its lines' codes lies inside the area);
  households spanning the area's border are counted distinctly from their members. Every other scope
  or group (a school, a breakdown group) counts COUNT(DISTINCT household) over the members.

Enrollment (now): `enrollment_cell` sums; households by category like the subsidy's households, from
`enrollment_household` (whole areas) or the students (schools and breakdown groups).

Fallbacks (answered by figures.scan): the subsidy figure of every year at once (neither year nor
semester), a year and a semester that disagree, and the enrollment figure on a semester's census day
(enrollment spans); a breakdown by township or village whose codes nest (a 6-digit area among
9-digit townships) is computed group by group.

Round trips (issue 17: a county's figure under 100 ms): the cells are one statement, the persons two
(sole members and movers together), the households one (two for a whole area), the loans of every
group one; the members and households are read by index-only scans of covering indexes (a17r00000002).
"""

from bisect import bisect_right
from collections.abc import Iterable
from itertools import pairwise

from sqlalchemy import (
    ColumnElement,
    case,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    null,
    select,
    true,
    tuple_,
    union_all,
)
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.kit.auth import Role
from services.statistics.facts.models import (
    EnrollmentCell,
    EnrollmentHousehold,
    LoanFact,
    PaymentCell,
    PaymentHousehold,
    PaymentMember,
    PaymentPerson,
    StudentFact,
)
from services.statistics.figures import path, scan
from services.statistics.scope import FigureScope

COUNTED, SHARES = scan.COUNTED, scan.SHARES  # one definition: the scan is the reference
BIT = {"spring": 1, "autumn": 2}
TOWNSHIP_DIGITS = 9
WHOLE = object()  # the key of a figure that is not broken down


def groupable(dim: str | None, values: Iterable[str | None]) -> bool:
    """Whether one grouped query gives each group exactly what FigureScope.of_group would: every row in
    one group. Township and village groups are prefixes: they must not nest."""
    codes = sorted(v for v in values if v is not None)
    if dim == "township":
        return all(len(v) == TOWNSHIP_DIGITS for v in codes)
    if dim == "village":
        return not any(b.startswith(a) for a, b in pairwise(codes))
    return True


def group_key(scope: FigureScope, model, dim: str | None) -> ColumnElement:
    """SQL: the group of a row (one row per group it is in: a child of two categories is in both)."""
    if dim is None:
        return null()
    if dim == "township":
        return func.left(model.village_code if scope.by_household else model.area_code, TOWNSHIP_DIGITS)
    if dim == "village":
        return model.village_code
    if dim == "school":
        return model.school_code
    if dim == "stage":
        return model.stage
    if dim == "category":
        none = literal_column("ARRAY[NULL]::varchar[]")
        return func.unnest(case((func.cardinality(model.categories) == 0, none), else_=distinct_codes(model)))
    raise ValueError(f"unknown breakdown {dim}")


def distinct_codes(model) -> ColumnElement:
    """SQL: the row's categories, each once (a function call only for the rows of several)."""
    return case(
        (func.cardinality(model.categories) < 2, model.categories),
        else_=func.statistics.sorted(model.categories),
    )


def _period(year: int | None, semester: str | None) -> tuple[int, int | None] | None:
    """(year, semester bit) the rollups answer for, or None (the scan answers)."""
    if semester:
        sem = Semester.parse(semester)
        return None if year and year != sem.year else (sem.year, BIT[sem.term])
    return (year, None) if year else None


def _in_period(model, year: int, bit: int | None) -> list:
    return [model.year == year] + ([model.sems.op("&")(bit) != 0] if bit else [])


def _money(person_times, students, amount) -> dict:
    """Integers all (a sum of bigints is numeric in SQL: never a Decimal in the figure)."""
    return {
        "students": int(students or 0),
        "person_times": int(person_times or 0),
        "amount_fen": int(amount or 0),
    }


def _whole_area(scope: FigureScope) -> bool:
    """Whether the scope is a whole area (by school or by household), with nothing narrowing it."""
    return scope.group is None and not scope.school_code and scope.principal.role is not Role.school


def _prefixes(code: str) -> list[str]:
    return [code[:n] for n in range(len(code))]


async def subsidy(
    session: AsyncSession, scope: FigureScope, *, year: int | None, semester: str | None
) -> dict | None:
    """The subsidy figure of the scope (queries.subsidy), or None where the scan must answer."""
    got = await subsidy_groups(session, scope, None, [WHOLE], year=year, semester=semester)
    return None if got is None else got[WHOLE]


async def subsidy_groups(
    session: AsyncSession,
    scope: FigureScope,
    dim: str | None,
    values: list,
    *,
    year: int | None,
    semester: str | None,
) -> dict | None:
    """The subsidy figure for each group of a breakdown (`values`), or None where the scan must answer."""
    period = _period(year, semester)
    if period is None or not groupable(dim, values):
        return None
    y, bit = period
    grouped = dim is not None

    def key(row_key):
        return row_key if grouped else WHOLE

    # Person-times, amounts and shares.
    c = PaymentCell
    cw = [scope.where(c), c.year == y] + ([c.semester == semester] if semester else [])
    base = (
        select(
            group_key(scope, c, dim).label("g"),
            c.stage,
            c.semester,
            c.policy_kind,
            c.hardship_level,
            c.categories,
            c.lines,
            c.amount_fen,
            c.central_fen,
            c.provincial_fen,
            c.county_fen,
        )
        .where(*cw)
        .subquery()
    )
    dims = (base.c.stage, base.c.semester, base.c.policy_kind, base.c.hardship_level)
    g = base.c.g
    # One statement: the cells by grouping set, then (grouping -1) by stage and category, each category
    # in the semester's column.
    by_cell = select(
        g,
        *dims,
        func.grouping(*dims),
        func.sum(base.c.lines),
        func.sum(base.c.amount_fen),
        func.sum(base.c.central_fen),
        func.sum(base.c.provincial_fen),
        func.sum(base.c.county_fen),
    ).group_by(
        func.grouping_sets(
            tuple_(g), tuple_(g, dims[0]), tuple_(g, dims[1]), tuple_(g, dims[2]), tuple_(g, dims[3])
        )
    )
    cat = select(g, base.c.stage, func.unnest(base.c.categories).label("c"), base.c.lines, base.c.amount_fen)
    cat = cat.subquery()
    by_category = select(
        cat.c.g,
        cat.c.stage,
        cat.c.c,
        null(),
        null(),
        literal(-1),
        func.sum(cat.c.lines),
        func.sum(cat.c.amount_fen),
        null(),
        null(),
        null(),
    ).group_by(cat.c.g, cat.c.stage, cat.c.c)
    rows = (await session.execute(union_all(by_cell, by_category))).all()
    cells = [r for r in rows if r[5] != -1]
    cat_cells = [
        (gv, stage, category, n, amount)
        for gv, stage, category, _, _, gbits, n, amount, *_ in rows
        if gbits == -1
    ]
    # Persons: sole members summed, movers counted distinctly.
    persons = await _persons(session, scope, dim, y, bit)
    households = await _households(session, scope, dim, y, bit)

    empty = {"students": 0, "person_times": 0, "amount_fen": 0, "households": 0}
    out: dict = {}

    def one(k) -> dict:
        if k not in out:
            out[k] = {
                "total": dict(empty),
                "by_share": dict.fromkeys(SHARES, 0),
                "by": {"by_stage": {}, "by_semester": {}, "by_policy_kind": {}, "by_hardship_level": {}},
            }
        return out[k]

    for gv, stage, sem, kind, level, gbits, n, amount, central, provincial, county in cells:
        o, p = one(key(gv)), persons.get(key(gv), {})
        if gbits == 0b1111:
            o["total"] = {**_money(n, p.get("total", 0), amount), "households": households.get(key(gv), 0)}
            o["by_share"] = {"central": int(central), "provincial": int(provincial), "county": int(county)}
        elif gbits == 0b0111 and stage is not None:
            o["by"]["by_stage"][stage] = {
                **_money(n, p.get(("stage", stage), 0), amount),
                "by_category": {},
            }
        elif gbits == 0b1011 and sem is not None:
            o["by"]["by_semester"][sem] = _money(n, p.get(("semester", sem), 0), amount)
        elif gbits == 0b1101 and kind is not None:
            o["by"]["by_policy_kind"][kind] = _money(n, p.get(("kind", kind), 0), amount)
        elif gbits == 0b1110 and level is not None:
            o["by"]["by_hardship_level"][level] = _money(n, p.get(("level", level), 0), amount)
    for gv, stage, category, n, amount in cat_cells:
        o, p = one(key(gv)), persons.get(key(gv), {})
        by_stage = o["by"]["by_stage"].setdefault(stage, {**_money(0, 0, 0), "by_category": {}})
        by_stage["by_category"][category] = _money(n, p.get(("stage_category", stage, category), 0), amount)

    loan_year = year or (Semester.parse(semester).year if semester else None)
    loans = await _loans(session, scope, dim, values, year=loan_year)
    result = {}
    for v in values:
        o = one(v)
        result[v] = (
            o["total"]
            | {k: dict(sorted(d.items())) for k, d in o["by"].items()}
            | {"by_share": o["by_share"], "loans": loans.get(v) or path.loans_of([])}
        )
    return result


async def _loans(
    session: AsyncSession, scope: FigureScope, dim: str | None, values: list, *, year: int | None
) -> dict:
    """path.loans for each group of a breakdown, in one grouped query: {value: loans}.

    Loans carry no categories: a loan is in the categories of its student now (as
    FigureScope.of_group places it). Township and village groups are prefixes: the loans are grouped
    by their own code, each code then placed in the one group it lies in (the groups do not nest).
    """
    if dim is None:
        return {WHOLE: await path.loans(session, scope, year=year)}
    t, s = LoanFact, StudentFact
    where = [t.cancelled.is_(False), scope.where(t)] + ([t.year == year] if year else [])
    lender = func.coalesce(t.lender, "").label("lender")
    prefixed = dim in ("township", "village")
    if dim == "category":
        g = group_key(scope, s, dim)
        base = select(g.label("g"), lender, t.amount_fen).join(s, s.student_id == t.student_id)
    else:
        column = t.village_code if (dim == "village" or scope.by_household) else t.area_code
        g = column if prefixed else group_key(scope, t, dim)
        base = select(g.label("g"), lender, t.amount_fen)
    base = base.where(*where).subquery()
    rows = await session.execute(
        select(base.c.g, base.c.lender, func.count(), func.coalesce(func.sum(base.c.amount_fen), 0))
        .group_by(base.c.g, base.c.lender)
        .order_by(base.c.lender, base.c.g)
    )
    codes = sorted(v for v in values if v is not None)
    outside = object()  # a code in none of the groups

    def place(code):
        """The group a row's code lies in: the greatest group not after it, if it is its prefix."""
        if code is None or not prefixed:
            return code
        i = bisect_right(codes, code) - 1
        return codes[i] if i >= 0 and code.startswith(codes[i]) else outside

    by: dict = {}
    for code, name, n, amount in rows:
        got = by.setdefault(place(code), {})
        count, fen = got.get(name, (0, 0))
        got[name] = (count + n, fen + int(amount))
    return {v: path.loans_of([(name, n, fen) for name, (n, fen) in by[v].items()]) for v in values if v in by}


def _signature(model, bit: int | None) -> tuple:
    """The kinds and levels columns of the period (the year's, or one semester's)."""
    term = {1: "spring", 2: "autumn"}.get(bit or 0)
    kinds = getattr(model, f"kinds_{term}") if term else model.kinds
    levels = getattr(model, f"levels_{term}") if term else model.levels
    return kinds, levels


async def _persons(
    session: AsyncSession, scope: FigureScope, dim: str | None, y: int, bit: int | None
) -> dict:
    """Distinct persons by group: {group: {"total": n, ("stage", s): n, ("semester", s): n, ...}}."""
    out: dict = {}

    def add(g, k, n) -> None:
        slot = out.setdefault(g if dim is not None else WHOLE, {})
        slot[k] = slot.get(k, 0) + int(n or 0)

    # One statement for the totals and one for the parts, sole members and movers together (UNION ALL).
    totals, parts = [], []
    for model, sole in ((PaymentPerson, True), (PaymentMember, False)):
        kinds, levels = _signature(model, bit)
        cats = distinct_codes(model) if sole else model.categories
        who = model.students if sole else model.student_id
        where = [scope.where(model), *_in_period(model, y, bit)] + ([] if sole else [~model.sole])
        base = (
            select(
                group_key(scope, model, dim).label("g"),
                model.stage,
                model.sems,
                kinds.label("kinds"),
                levels.label("levels"),
                cats.label("cats"),
                who.label("who"),
            )
            .where(*where)
            .subquery()
        )

        def count(column, *, only=None, sole=sole):
            agg = func.sum(column) if sole else func.count(distinct(column))
            return agg.filter(only) if only is not None else agg

        g, stage, who_c = base.c.g, base.c.stage, base.c.who
        spring, autumn = base.c.sems.op("&")(1) != 0, base.c.sems.op("&")(2) != 0
        totals.append(
            select(
                g,
                stage,
                func.grouping(stage),
                count(who_c),
                count(who_c, only=spring),
                count(who_c, only=autumn),
            ).group_by(func.grouping_sets(tuple_(g), tuple_(g, stage)))
        )
        for name, column in (("kind", base.c.kinds), ("level", base.c.levels)):
            sub = select(g, func.unnest(column).label("v"), who_c).subquery()
            parts.append(
                select(literal(name), sub.c.g, null(), sub.c.v, count(sub.c.who)).group_by(sub.c.g, sub.c.v)
            )
        sub = select(g, stage, func.unnest(base.c.cats).label("c"), who_c).subquery()
        parts.append(
            select(literal("stage_category"), sub.c.g, sub.c.stage, sub.c.c, count(sub.c.who)).group_by(
                sub.c.g, sub.c.stage, sub.c.c
            )
        )
    for gv, st, gbits, n, n_spring, n_autumn in await session.execute(union_all(*totals)):
        if gbits == 1:
            add(gv, "total", n)
            for term, m in (("spring", n_spring), ("autumn", n_autumn)):
                if m and (bit is None or BIT[term] == bit):
                    add(gv, ("semester", f"{y}-{term}"), m)
        else:
            add(gv, ("stage", st), n)
    for name, gv, st, v, n in await session.execute(union_all(*parts)):
        add(gv, (name, st, v) if name == "stage_category" else (name, v), n)
    return {g: {k: v for k, v in d.items()} for g, d in out.items()}


async def _households(
    session: AsyncSession, scope: FigureScope, dim: str | None, y: int, bit: int | None
) -> dict:
    """Distinct households paid, by group."""
    m = PaymentMember
    in_scope = [scope.where(m), *_in_period(m, y, bit), m.household_id.is_not(None)]
    if dim is None and _whole_area(scope):
        h = PaymentHousehold
        code = h.village_code if scope.by_household else h.area_code
        area = scope.area_code
        whole = await session.scalar(select(func.count()).where(*_in_period(h, y, bit), code.op("^@")(area)))
        # Households reaching beyond the area: counted from their members inside it. Their common prefix
        # lies above the area, outside the caller's wall: read across scopes on purpose (kit.rls), only
        # the count of households with lines inside the scope comes out.
        # Driven from those few households (a fence: the planner, misjudging the members of a prefix,
        # would otherwise probe every household of the area's members).
        few = select(h.household_id).where(*_in_period(h, y, bit), code.in_(_prefixes(area)))
        few = few.cte("few").prefix_with("MATERIALIZED")
        member = exists().where(m.household_id == few.c.household_id, *in_scope)
        async with path.across_scopes(session):
            spanning = await session.scalar(select(func.count()).select_from(few).where(member))
        return {WHOLE: int(whole or 0) + int(spanning or 0)}
    # Each (group, household) once, then counted: hashed, where COUNT(DISTINCT) would sort the members.
    base = select(group_key(scope, m, dim).label("g"), m.household_id).where(*in_scope).distinct().subquery()
    rows = await session.execute(select(base.c.g, func.count()).group_by(base.c.g))
    return {(gv if dim is not None else WHOLE): n for gv, n in rows}


async def enrollment(session: AsyncSession, scope: FigureScope) -> dict | None:
    """The current enrollment figure of the scope (queries.enrollment)."""
    got = await enrollment_groups(session, scope, None, [WHOLE])
    return None if got is None else got[WHOLE]


async def enrollment_groups(
    session: AsyncSession, scope: FigureScope, dim: str | None, values: list
) -> dict | None:
    """The current enrollment figure for each group of a breakdown, or None where the scan must answer."""
    if not groupable(dim, values):
        return None
    e = EnrollmentCell

    def key(gv):
        return gv if dim is not None else WHOLE

    base = (
        select(group_key(scope, e, dim).label("g"), e.stage, e.categories, e.compulsory, e.students)
        .where(scope.where(e))
        .subquery()
    )
    g, stage = base.c.g, base.c.stage
    out: dict = {}

    def one(gv) -> dict:
        return out.setdefault(
            key(gv),
            {"students": 0, "compulsory": 0, "by_stage": {}, "by_category": {}, "by_stage_category": {}},
        )

    rows = await session.execute(
        select(
            g,
            stage,
            func.grouping(stage),
            func.sum(base.c.students),
            func.sum(base.c.students).filter(base.c.compulsory),
        ).group_by(func.grouping_sets(tuple_(g), tuple_(g, stage)))
    )
    for gv, st, gbits, n, compulsory in rows:
        o = one(gv)
        if gbits == 1:
            o["students"], o["compulsory"] = int(n or 0), int(compulsory or 0)
        elif st:
            o["by_stage"][st] = int(n)
    sub = select(g, stage, func.unnest(base.c.categories).label("c"), base.c.students).subquery()
    rows = await session.execute(
        select(sub.c.g, sub.c.stage, sub.c.c, func.sum(sub.c.students)).group_by(
            sub.c.g, sub.c.stage, sub.c.c
        )
    )
    for gv, st, c, n in sorted(rows, key=lambda r: (r[2], r[1] or "")):
        o = one(gv)
        o["by_category"][c] = o["by_category"].get(c, 0) + int(n)
        o["by_stage_category"].setdefault(st or "unknown", {"by_category": {}})["by_category"][c] = int(n)
    homes = await _homes(session, scope, dim)
    result = {}
    for v in values:
        o = one(v)
        result[v] = {
            "students": o["students"],
            "compulsory": o["compulsory"],
            "by_stage": dict(sorted(o["by_stage"].items())),
            "by_category": dict(sorted(o["by_category"].items())),
            "by_stage_category": dict(sorted(o["by_stage_category"].items())),
            "households_by_category": dict(sorted(homes.get(v, {}).items())),
        }
    return result


async def _homes(session: AsyncSession, scope: FigureScope, dim: str | None) -> dict:
    """Distinct households of the children at school now, by group and category."""
    s = StudentFact
    counted = [scope.where(s), s.status.in_(COUNTED), s.household_id.is_not(None)]
    out: dict = {}
    if dim is None and _whole_area(scope):
        h = EnrollmentHousehold
        code = h.village_code if scope.by_household else h.area_code
        area = scope.area_code
        sub = select(func.unnest(h.categories).label("c")).where(code.op("^@")(area)).subquery()
        whole = await session.execute(select(sub.c.c, func.count()).group_by(sub.c.c))
        got = {c: int(n) for c, n in whole}
        # Households reaching beyond the area (across scopes on purpose, as for payments): counted from
        # their children inside it, driven from those few households, not from the area's students.
        inside = select(func.unnest(s.categories).label("c")).where(
            s.household_id == h.household_id, *counted
        )
        inside = inside.lateral()
        async with path.across_scopes(session):
            rows = await session.execute(
                select(inside.c.c, func.count(distinct(h.household_id)))
                .select_from(h)
                .join(inside, true())
                .where(code.in_(_prefixes(area)))
                .group_by(inside.c.c)
            )
        for c, n in rows:
            got[c] = got.get(c, 0) + int(n)
        return {WHOLE: got}
    base = select(group_key(scope, s, dim).label("g"), s.categories, s.household_id).where(*counted)
    base = base.subquery()
    sub = select(base.c.g, func.unnest(base.c.categories).label("c"), base.c.household_id).subquery()
    rows = await session.execute(
        select(sub.c.g, sub.c.c, func.count(distinct(sub.c.household_id))).group_by(sub.c.g, sub.c.c)
    )
    for gv, c, n in rows:
        out.setdefault(gv if dim is not None else WHOLE, {})[c] = int(n)
    return out
