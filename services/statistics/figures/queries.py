"""The figures, computed in SQL from the projections, always inside the caller's scope."""

from datetime import date

from sqlalchemy import (
    BigInteger,
    Select,
    String,
    and_,
    case,
    distinct,
    exists,
    func,
    literal,
    literal_column,
    or_,
    select,
    tuple_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, today
from services.contracts.vocabulary import HARDSHIP_RANK as HARDSHIP_RANK_BY_LEVEL
from services.contracts.vocabulary import FundingShare
from services.kit.auth import Role
from services.kit.rls import within
from services.statistics.facts.models import (
    ArrivalFact,
    CaseFact,
    CheckFact,
    EnrollmentSpan,
    HardshipFact,
    PaymentFact,
    PlacementFact,
    PolicyFact,
    StudentFact,
)
from services.statistics.figures import indicators, path
from services.statistics.scope import FigureScope

COUNTED = ("enrolled", "home_taught")
SHARES = tuple(str(s) for s in FundingShare)


def census_date(semester: str) -> date:
    """The day a semester's enrollment is counted on: 31 March (spring) or 30 September (autumn)."""
    return Semester.parse(semester).census_day


def _money(person_times, students, amount) -> dict:
    return {"students": students or 0, "person_times": person_times or 0, "amount_fen": int(amount or 0)}


async def subsidy(
    session: AsyncSession, scope: FigureScope, *, year: int | None, semester: str | None
) -> dict:
    """Paid aid: persons, households and person-times counted distinctly, amounts exact to the fen.

    Only lines still `paid` count: a line the bank returned (`failed`) stops counting at once, and its
    re-payment (a line naming it in `repays_id`) counts in its place, so the child and the person-time
    count once. `by_share`: the amount by funding share (a line without shares is county money);
    `by_hardship_level`: lines of children with an approved hardship level.

    Two scans: one GROUPING SETS query for the total and the by-stage, by-semester, by-policy-kind and
    by-hardship-level breakdowns, one for the stage × category breakdown.
    """
    p = PaymentFact
    where = [p.status == "paid", scope.where(p)]
    if year:
        where.append(p.year == year)
    if semester:
        where.append(p.semester == semester)
    dims = (p.stage, p.semester, p.policy_kind, p.hardship_level)

    def share(name: str):
        return func.coalesce(p.shares[name].astext.cast(BigInteger), 0)

    county = case((p.shares.is_(None), p.amount_fen), else_=share("county"))
    rows = (
        await session.execute(
            select(
                *dims,
                func.grouping(*dims).label("g"),
                func.count(),
                func.count(distinct(p.student_id)),
                func.coalesce(func.sum(p.amount_fen), 0),
                func.count(distinct(p.household_id)),
                func.coalesce(func.sum(share("central")), 0),
                func.coalesce(func.sum(share("provincial")), 0),
                func.coalesce(func.sum(county), 0),
            )
            .where(*where)
            .group_by(
                func.grouping_sets(
                    tuple_(),
                    tuple_(p.stage),
                    tuple_(p.semester),
                    tuple_(p.policy_kind),
                    tuple_(p.hardship_level),
                )
            )
        )
    ).all()
    out: dict = {**_money(0, 0, 0), "households": 0}
    by_share = dict.fromkeys(SHARES, 0)
    by: dict[str, dict] = {"by_stage": {}, "by_semester": {}, "by_policy_kind": {}, "by_hardship_level": {}}
    for stage, sem, kind, level, g, n, students, amount, households, central, provincial, county_fen in rows:
        # grouping(stage, semester, policy_kind, hardship_level): a bit per dimension rolled up, stage the
        # highest.
        if g == 0b1111:
            out = {**_money(n, students, amount), "households": households}
            by_share = {"central": int(central), "provincial": int(provincial), "county": int(county_fen)}
        elif g == 0b0111 and stage is not None:
            by["by_stage"][stage] = {**_money(n, students, amount), "by_category": {}}
        elif g == 0b1011 and sem is not None:
            by["by_semester"][sem] = _money(n, students, amount)
        elif g == 0b1101 and kind is not None:
            by["by_policy_kind"][kind] = _money(n, students, amount)
        elif g == 0b1110 and level is not None:
            by["by_hardship_level"][level] = _money(n, students, amount)
    cat = func.unnest(p.categories).label("category")
    sub = select(p.stage, cat, p.student_id, p.amount_fen).where(*where).subquery()
    rows = await session.execute(
        select(
            sub.c.stage,
            sub.c.category,
            func.count(),
            func.count(distinct(sub.c.student_id)),
            func.sum(sub.c.amount_fen),
        ).group_by(sub.c.stage, sub.c.category)
    )
    for stage, category, n, students, amount in rows:
        by["by_stage"].setdefault(stage, {**_money(0, 0, 0), "by_category": {}})["by_category"][category] = (
            _money(n, students, amount)
        )
    loan_year = year or (Semester.parse(semester).year if semester else None)
    return (
        out
        | {k: dict(sorted(v.items())) for k, v in by.items()}
        | {"by_share": by_share, "loans": await path.loans(session, scope, year=loan_year)}
    )


def _enrolled_now(scope: FigureScope) -> Select:
    s = StudentFact
    return select(s.student_id, s.stage, s.categories, s.compulsory).where(
        s.status.in_(COUNTED), scope.where(s)
    )


def _enrolled_on(scope: FigureScope, on: date) -> Select:
    e = EnrollmentSpan
    return select(e.student_id, e.stage, e.categories, e.compulsory).where(
        e.status.in_(COUNTED), scope.where(e), e.valid_from <= on, (e.valid_to.is_(None)) | (e.valid_to > on)
    )


async def enrollment(session: AsyncSession, scope: FigureScope, *, semester: str | None) -> dict:
    """Students enrolled or home-taught, by stage and category (current, or on the semester's census day)."""
    base = (_enrolled_on(scope, census_date(semester)) if semester else _enrolled_now(scope)).subquery()
    total, compulsory = (
        await session.execute(select(func.count(), func.count().filter(base.c.compulsory)).select_from(base))
    ).one()
    by_stage = dict(
        (
            await session.execute(
                select(base.c.stage, func.count()).group_by(base.c.stage).order_by(base.c.stage)
            )
        ).all()
    )
    cat = select(func.unnest(base.c.categories).label("c")).subquery()
    by_category = dict(
        (await session.execute(select(cat.c.c, func.count()).group_by(cat.c.c).order_by(cat.c.c))).all()
    )
    # Students by stage and category; households (distinct) by category (分类统计 of issue 14).
    cross = select(base.c.stage, func.unnest(base.c.categories).label("c")).subquery()
    by_stage_category: dict[str, dict] = {}
    rows = await session.execute(
        select(cross.c.stage, cross.c.c, func.count()).group_by(cross.c.stage, cross.c.c).order_by(cross.c.c)
    )
    for stage, category, n in rows:
        by_stage_category.setdefault(stage or "unknown", {"by_category": {}})["by_category"][category] = n
    s = StudentFact
    homes = (
        select(func.unnest(base.c.categories).label("c"), s.household_id)
        .join(s, s.student_id == base.c.student_id)
        .where(s.household_id.is_not(None))
        .subquery()
    )
    households = await session.execute(
        select(homes.c.c, func.count(distinct(homes.c.household_id))).group_by(homes.c.c).order_by(homes.c.c)
    )
    return {
        "students": total,
        "compulsory": compulsory,  # 义务教育阶段: primary, junior and special grades 1-9
        "by_stage": {k: v for k, v in by_stage.items() if k},
        "by_category": by_category,
        "by_stage_category": dict(sorted(by_stage_category.items())),
        "households_by_category": dict(households.all()),
    }


async def coverage(session: AsyncSession, scope: FigureScope, *, semester: str) -> dict:
    """Coverage of a semester: children eligible under a policy in force that semester; of them, those
    covered (paid here, or aid of the semester recorded as paid elsewhere, 区域外资助).

    Eligible: at school (enrolled or home-taught) at some time in the semester (up to today while it
    runs; a batch pays the children of the semester), in the policy's area, meeting the policy's stages,
    aid categories and boarding rule and the conditions of one of its rules in force that semester
    (stage, grade, boarding, new entrant, category, hardship level approved for the school year).
    One-off items (新生 / 升高中 bonuses) make no one eligible on their own. `paid_elsewhere` counts
    those covered elsewhere and not also paid here; `unpaid` = eligible and not covered.
    """
    sem = Semester.parse(semester)
    first, last = sem.first_day, min(sem.last_day, today())
    e, s = EnrollmentSpan, StudentFact
    eligible_by = await eligibility(session, scope, sem, span=e, student=s)
    eligible = (
        select(e.student_id)
        .join(s, s.student_id == e.student_id)
        .where(
            e.status.in_(COUNTED),
            scope.where(e),
            e.valid_from <= last,
            or_(e.valid_to.is_(None), e.valid_to > first),
            eligible_by,
        )
        .distinct()
        .subquery()
    )
    p = PaymentFact
    paid = select(p.student_id).where(p.status == "paid", p.semester == semester)
    here = eligible.c.student_id.in_(paid)
    elsewhere = eligible.c.student_id.in_(path.covered_elsewhere(semester))
    counts = select(func.count(), func.count().filter(here), func.count().filter(elsewhere & ~here))
    n_eligible, n_paid, n_elsewhere = (await session.execute(counts.select_from(eligible))).one()
    covered = n_paid + n_elsewhere
    return {
        "semester": semester,
        "eligible": n_eligible,
        "paid": n_paid,
        "paid_elsewhere": n_elsewhere,
        "unpaid": n_eligible - covered,
        "coverage": round(covered / n_eligible, 4) if n_eligible else None,
    }


HARDSHIP_RANK = {str(k): v for k, v in HARDSHIP_RANK_BY_LEVEL.items()}
ENTRY_GRADES = (1, 7, 10)  # the first grade of each stage, national numbering (初一 = 7, 高一 = 10)


def national_grade(stage, grade):
    """SQL: the grade in the national numbering 1-12 (a junior or senior school's 1-3 is 7-9 / 10-12)."""
    return case(
        (and_(stage == "junior", grade < 7), grade + 6),
        (and_(stage.in_(("senior", "vocational")), grade < 10), grade + 9),
        else_=grade,
    )


async def eligibility(session: AsyncSession, scope: FigureScope, sem: Semester, *, span, student):
    """SQL: the child (an enrollment span and its student) is eligible under a policy in force in the
    semester. Policies are reference data: read whole (those of the scope's area and above it, or any
    for a count by household), each rule in force becoming one condition."""
    pf = PolicyFact
    stmt = select(pf)
    if not scope.by_household:
        area = scope.area_code
        stmt = stmt.where(or_(literal(area).startswith(pf.area_code), within(pf.area_code, area)))
    conditions = []
    for policy in (await session.execute(stmt)).scalars():
        terms = policy.terms or {}
        base = [within(span.area_code, policy.area_code)]
        if policy.stages:
            base.append(span.stage.in_(policy.stages))
        if policy.categories:
            listed = span.categories.overlap(literal(policy.categories, ARRAY(String)))
            if terms.get("min_hardship_level"):  # an approved hardship level admits a child too
                listed = or_(listed, _hardship_at_least(terms["min_hardship_level"], sem, span=span))
            base.append(listed)
        if policy.boarding_only:
            base.append(student.boarding.is_(True))
        if policy.non_boarders_only:
            base.append(student.boarding.is_(False))
        rules = terms.get("rules") or []
        if rules:
            for rule in rules:
                if _rule_covers(rule, sem) and not rule.get("one_off"):
                    conditions.append(and_(*base, *_rule_conditions(rule, sem, span=span, student=student)))
        elif sem.year in (terms.get("years") or []):
            conditions.append(and_(*base))
    return or_(*conditions) if conditions else literal_column("false")


def _rule_conditions(rule: dict, sem: Semester, *, span, student) -> list:
    out = []
    if rule.get("stages"):
        out.append(span.stage.in_(rule["stages"]))
    if rule.get("grades"):
        out.append(national_grade(span.stage, span.grade).in_(rule["grades"]))
    if rule.get("boarding") is not None:
        out.append(student.boarding.is_(bool(rule["boarding"])))
    if rule.get("new_entrant") is not None:
        entrant = national_grade(span.stage, span.grade).in_(ENTRY_GRADES)
        out.append(entrant if rule["new_entrant"] else ~entrant)
    if rule.get("categories"):
        out.append(span.categories.overlap(literal(rule["categories"], ARRAY(String))))
    if rule.get("min_hardship_level"):
        out.append(_hardship_at_least(rule["min_hardship_level"], sem, span=span))
    return out


def _hardship_at_least(level: str, sem: Semester, *, span):
    """SQL: the child has a hardship level at least `level`, approved by the county for the semester's
    school year."""
    h = HardshipFact
    least = HARDSHIP_RANK.get(level, len(HARDSHIP_RANK) + 1)
    levels = [name for name, rank in HARDSHIP_RANK.items() if rank >= least]
    return exists().where(
        h.student_id == span.student_id,
        h.school_year == sem.school_year,
        h.status == "approved",
        h.level.in_(levels),
    )


def _rule_covers(rule: dict, sem: Semester) -> bool:
    try:
        first = Semester.parse(rule["from_semester"])
        last = Semester.parse(rule["until_semester"]) if rule.get("until_semester") else None
    except (KeyError, ValueError):
        return False
    return first <= sem and (last is None or sem <= last)


async def verification(session: AsyncSession, scope: FigureScope, *, semester: str | None) -> dict:
    """Start-of-semester check: expected, arrived, not arrived, by reason."""
    c, a = CheckFact, ArrivalFact
    expected_q = select(func.coalesce(func.sum(c.expected), 0)).where(*_check_where(scope, semester))
    expected = (await session.execute(expected_q)).scalar_one()
    aw = [scope.where(a)] + ([a.semester == semester] if semester else [])
    arrived = (await session.execute(select(func.count()).where(*aw, a.arrived.is_(True)))).scalar_one()
    rows = (
        await session.execute(
            select(a.reason, func.count())
            .where(*aw, a.arrived.is_(False))
            .group_by(a.reason)
            .order_by(a.reason)
        )
    ).all()
    by_reason = {(r or "unexplained"): n for r, n in rows}
    return {
        "expected": int(expected),
        "arrived": arrived,
        "not_arrived": sum(by_reason.values()),
        "pending": max(int(expected) - arrived - sum(by_reason.values()), 0),
        "by_reason": by_reason,
    }


def _check_where(scope: FigureScope, semester: str | None) -> list:
    c = CheckFact
    p = scope.principal
    where = [c.semester == semester] if semester else []
    if p.role is Role.school:
        where.append(c.school_code == p.school_code)
    elif p.role is Role.village:
        where.append(literal_column("false"))  # a check belongs to a school, not a village
    else:
        where.append(within(c.area_code, scope.area_code))
    if scope.school_code:
        where.append(c.school_code == scope.school_code)
    if scope.group is not None:  # a check is one school's: it breaks down by school or township only
        dim, value = scope.group
        if dim == "school":
            where.append(c.school_code == value)
        elif dim == "township":
            where.append(within(c.area_code, value) if value else literal_column("false"))
        else:
            where.append(literal_column("false"))
    return where


async def dropout(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """Cases opened in the year and how they ended; students who dropped out; the 控辍保学 monitoring
    rate (巩固率) and dropout rates of school year `year` (figures.indicators)."""
    k = CaseFact
    where = [k.year == year, scope.where(k)]
    rows = dict(
        (await session.execute(select(k.status, func.count()).where(*where).group_by(k.status))).all()
    )
    returned = (
        await session.execute(
            select(func.count()).where(*where, k.status == "closed", k.outcome == "returned")
        )
    ).scalar_one()
    by_reason = dict(
        (
            await session.execute(
                select(func.coalesce(k.reason_group, "unknown"), func.count())
                .where(*where)
                .group_by(k.reason_group)
            )
        ).all()
    )
    e = EnrollmentSpan
    dropped = (
        await session.execute(
            select(func.count(distinct(e.student_id))).where(
                scope.where(e), e.status == "dropped_out", func.extract("year", e.valid_from) == year
            )
        )
    ).scalar_one()
    outcomes = await indicators.roll_outcomes(session, scope, year=year)
    return {
        "year": year,
        "cases_opened": sum(rows.values()),
        "returned": returned,
        "returned_pending": rows.get("returned_pending", 0),
        "open": rows.get("open", 0) + rows.get("escalated", 0),
        "dropped_out": dropped,
        "by_reason_group": by_reason,
        **consolidation(outcomes),
        **indicators.dropout_rates(outcomes),
    }


def consolidation(outcomes: dict) -> dict:
    """The monitoring rate's parts under the names the dropout figure always had."""
    c = outcomes["compulsory"]
    rate = path.ratio(c["kept"], c["base"] - c["left"])
    return {
        "consolidation_base": rate["denominator"],
        "consolidation_kept": rate["numerator"],
        "consolidation_rate": rate["rate"],
    }


PLACED = indicators.PLACED


async def disability(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """Disabled children's placement records of the year, and the enrollment rate by its official
    definition (placed ÷ all school-age disabled children on the roll: figures.indicators)."""
    p = PlacementFact
    rows = dict(
        (
            await session.execute(
                select(p.placement, func.count()).where(p.year == year, scope.where(p)).group_by(p.placement)
            )
        ).all()
    )
    rate = await indicators.disabled_enrollment(session, scope, year=year)
    return {
        "year": year,
        "children": sum(rows.values()),
        "by_placement": rows,
        "school_age_disabled": rate["denominator"],
        "placed": rate["numerator"],
        "home_teaching": rate["home_teaching"],
        "enrollment_rate": rate["rate"],
    }


async def rates(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """The year's rates as {numerator, denominator, rate} (API.md: Rates; figures.indicators)."""
    outcomes = await indicators.roll_outcomes(session, scope, year=year)
    c = outcomes["compulsory"]
    semesters = indicators.semesters_of(year)
    covered = eligible = 0
    for semester in semesters:
        got = await coverage(session, scope, semester=semester)
        covered, eligible = covered + got["paid"] + got["paid_elsewhere"], eligible + got["eligible"]
    dropout = indicators.dropout_rates(outcomes)
    return {
        "consolidation_cohort": await indicators.consolidation_cohort(session, scope, year=year),
        "consolidation_monitoring": path.ratio(c["kept"], c["base"] - c["left"]),
        "dropout_compulsory": dropout["dropout_compulsory"],
        **await indicators.progression(session, scope, year=year),
        "coverage": path.ratio(covered, eligible),
        "disabled_enrollment": await indicators.disabled_enrollment(session, scope, year=year),
        "notice_acknowledged": await indicators.notice_acknowledged(session, scope, semesters=semesters),
        "dropout_by_stage": dropout["dropout_by_stage"],
    }
