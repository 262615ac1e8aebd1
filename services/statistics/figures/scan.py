"""The subsidy and enrollment figures scanned from the facts: the reference the rollups are held to.

figures/rollups.py serves the same figures from the rollups; tests/statistics/test_rollups.py asserts
they are equal for every scope and breakdown, and the figures fall back to these scans where the
rollups cannot answer (figures.rollups says where).
"""

from datetime import date

from sqlalchemy import BigInteger, Select, case, distinct, func, select, tuple_
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.contracts.vocabulary import FundingShare
from services.statistics.facts.models import EnrollmentSpan, PaymentFact, StudentFact
from services.statistics.figures import path
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
