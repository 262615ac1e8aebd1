"""The figures, computed in SQL from the projections, always inside the caller's scope."""

from datetime import date

from sqlalchemy import Select, distinct, func, literal_column, select, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.kit.auth import Role
from services.kit.rls import within
from services.statistics.facts.models import (
    ArrivalFact,
    CaseFact,
    CheckFact,
    EnrollmentSpan,
    PaymentFact,
    PlacementFact,
    StudentFact,
)
from services.statistics.figures import path
from services.statistics.scope import FigureScope

COUNTED = ("enrolled", "home_taught")
IN_SCHOOL = ("enrolled", "home_taught", "out_of_county", "graduated", "suspended", "deferred")


def census_date(semester: str) -> date:
    """The day a semester's enrollment is counted on: 31 March (spring) or 30 September (autumn)."""
    return Semester.parse(semester).census_day


def _money(person_times, students, amount) -> dict:
    return {"students": students or 0, "person_times": person_times or 0, "amount_fen": int(amount or 0)}


async def subsidy(
    session: AsyncSession, scope: FigureScope, *, year: int | None, semester: str | None
) -> dict:
    """Paid aid: persons, households and person-times counted distinctly, amounts exact to the fen.

    Two scans: one GROUPING SETS query for the total and the by-stage, by-semester and
    by-policy-kind breakdowns, one for the stage × category breakdown.
    """
    p = PaymentFact
    where = [p.status == "paid", scope.where(p)]
    if year:
        where.append(p.year == year)
    if semester:
        where.append(p.semester == semester)
    dims = (p.stage, p.semester, p.policy_kind)
    rows = (
        await session.execute(
            select(
                *dims,
                func.grouping(*dims).label("g"),
                func.count(),
                func.count(distinct(p.student_id)),
                func.coalesce(func.sum(p.amount_fen), 0),
                func.count(distinct(p.household_id)),
            )
            .where(*where)
            .group_by(
                func.grouping_sets(tuple_(), tuple_(p.stage), tuple_(p.semester), tuple_(p.policy_kind))
            )
        )
    ).all()
    out: dict = {**_money(0, 0, 0), "households": 0}
    by: dict[str, dict] = {"by_stage": {}, "by_semester": {}, "by_policy_kind": {}}
    for stage, sem, kind, g, n, students, amount, households in rows:
        # grouping(stage, semester, policy_kind): a bit per dimension rolled up, stage the highest.
        if g == 0b111:
            out = {**_money(n, students, amount), "households": households}
        elif g == 0b011 and stage is not None:
            by["by_stage"][stage] = {**_money(n, students, amount), "by_category": {}}
        elif g == 0b101 and sem is not None:
            by["by_semester"][sem] = _money(n, students, amount)
        elif g == 0b110 and kind is not None:
            by["by_policy_kind"][kind] = _money(n, students, amount)
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
    return out | {k: dict(sorted(v.items())) for k, v in by.items()} | {
        "loans": await path.loans(session, scope, year=loan_year)
    }


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
        await session.execute(
            select(func.count(), func.count().filter(base.c.compulsory)).select_from(base)
        )
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
    return {
        "students": total,
        "compulsory": compulsory,  # 义务教育阶段: primary, junior and special grades 1-9
        "by_stage": {k: v for k, v in by_stage.items() if k},
        "by_category": by_category,
    }


async def coverage(session: AsyncSession, scope: FigureScope, *, semester: str) -> dict:
    """Eligible (an aid category) enrolled students covered this semester / eligible.

    Covered: paid here at least once, or aid of the semester paid by another county or province
    (区域外资助, `paid_elsewhere` counts those not also paid here); `unpaid` = not covered.
    """
    eligible = _enrolled_now(scope).where(func.cardinality(StudentFact.categories) > 0).subquery()
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
    return where


async def dropout(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """Cases of the year and how they ended; students who dropped out; consolidation rate."""
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
    return {
        "year": year,
        "cases_opened": sum(rows.values()),
        "returned": returned,
        "returned_pending": rows.get("returned_pending", 0),
        "open": rows.get("open", 0) + rows.get("escalated", 0),
        "dropped_out": dropped,
        "by_reason_group": by_reason,
        **await consolidation(session, scope, year=year),
    }


async def consolidation(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """Compulsory-stage students in school on 1 September of `year` who are still in school (巩固率)."""
    start = Semester(year, "autumn").opening_day  # 1 September: the school year `year` begins
    e = EnrollmentSpan
    cohort = (
        select(e.student_id)
        .where(
            e.status.in_(COUNTED),
            e.compulsory.is_(True),  # contracts.vocabulary.compulsory_stage: special grades 1-9 too
            scope.where(e),
            e.valid_from <= start,
            (e.valid_to.is_(None)) | (e.valid_to > start),
        )
        .subquery()
    )
    base = (await session.execute(select(func.count()).select_from(cohort))).scalar_one()
    s = StudentFact
    kept = (
        await session.execute(
            select(func.count()).where(s.student_id.in_(select(cohort.c.student_id)), s.status.in_(IN_SCHOOL))
        )
    ).scalar_one()
    return {
        "consolidation_base": base,
        "consolidation_kept": kept,
        "consolidation_rate": round(kept / base, 4) if base else None,
    }


PLACED = ("special_school", "regular_class", "home_teaching")


async def disability(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """Disabled children's placements; enrollment rate = placed in school or home teaching / all."""
    p = PlacementFact
    rows = dict(
        (
            await session.execute(
                select(p.placement, func.count()).where(p.year == year, scope.where(p)).group_by(p.placement)
            )
        ).all()
    )
    children = sum(rows.values())
    placed = sum(n for k, n in rows.items() if k in PLACED)
    return {
        "year": year,
        "children": children,
        "by_placement": rows,
        "enrollment_rate": round(placed / children, 4) if children else None,
    }


async def rates(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """The year's rates as {numerator, denominator, rate} (API.md: Rates)."""
    kept = await consolidation(session, scope, year=year)
    placed = await disability(session, scope, year=year)
    return {
        "progression_junior_senior": await path.progression_junior_senior(session, scope, year=year),
        "consolidation_cohort": path.ratio(kept["consolidation_kept"], kept["consolidation_base"]),
        "disabled_enrollment": path.ratio(
            sum(n for k, n in placed["by_placement"].items() if k in PLACED), placed["children"]
        ),
    }
