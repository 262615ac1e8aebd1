"""The figures, computed in SQL from the projections, always inside the caller's scope."""


from sqlalchemy import (
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
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, today
from services.contracts.vocabulary import HARDSHIP_RANK as HARDSHIP_RANK_BY_LEVEL
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
from services.statistics.figures import indicators, path, rollups, scan
from services.statistics.scope import FigureScope

COUNTED = scan.COUNTED


async def subsidy(
    session: AsyncSession, scope: FigureScope, *, year: int | None, semester: str | None
) -> dict:
    """Paid aid: persons, households and person-times counted distinctly, amounts exact to the fen.

    Only lines still `paid` count: a line the bank returned (`failed`) stops counting at once, and its
    re-payment (a line naming it in `repays_id`) counts in its place, so the child and the person-time
    count once. `by_share`: the amount by funding share (a line without shares is county money);
    `by_hardship_level`: lines of children with an approved hardship level.

    Read from the rollups (figures.rollups) for a year or a semester; every year at once is scanned
    from the facts (figures.scan).
    """
    got = await rollups.subsidy(session, scope, year=year, semester=semester)
    return got if got is not None else await scan.subsidy(session, scope, year=year, semester=semester)


async def enrollment(session: AsyncSession, scope: FigureScope, *, semester: str | None) -> dict:
    """Students enrolled or home-taught, by stage and category (current, or on the semester's census day).

    The current figure is read from the rollups (figures.rollups); a semester's census day is scanned
    from the enrollment spans (figures.scan).
    """
    got = await rollups.enrollment(session, scope) if semester is None else None
    return got if got is not None else await scan.enrollment(session, scope, semester=semester)


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
