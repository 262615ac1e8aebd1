"""The rates a county is judged on, by their official definitions (API.md "Rates"; issue 14).

Every rate is `{"numerator", "denominator", "rate"}` (`path.ratio`). `year` Y names the school year
that begins on 1 September Y (2026 = 2026-2027 学年, as hardship identifications count it), except
where a rate is about those who FINISHED a stage: 升学率 and the cohort 巩固率 of Y follow the
graduates of summer Y into school year Y.

Each child is placed once: by its last enrollment on the roll in the period (by school or by
household, FigureScope.basis), so figures of townships or villages add up to the county's. What became
of a child is read across scopes (kit.rls): a child who moved to another county or went on to a senior
school elsewhere is followed there; only counts of the caller's own children come out.
"""

from datetime import date

from sqlalchemy import Integer, and_, case, cast, exists, func, or_, select
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.calendar import Semester
from services.contracts.vocabulary import COMPULSORY_AGES
from services.statistics.facts.models import (
    EnrollmentSpan,
    NoticeFact,
    PaymentFact,
    PlacementFact,
    StudentFact,
)
from services.statistics.figures import path
from services.statistics.figures.path import ratio
from services.statistics.scope import FigureScope

# On the roll of a school (学籍在册): at school, home-taught (送教上门), studying out of the county with
# the move documented (县外就读), or suspended / deferred with approval.
ON_ROLL = ("enrolled", "home_taught", "out_of_county", "suspended", "deferred")
IN_SCHOOL = ("enrolled", "home_taught", "out_of_county")  # kept (巩固): 送教上门 and 县外就读 count
LEFT = ("deceased", "transferred_out")  # they leave the base (deaths and documented moves)
PLACED = ("special_school", "regular_class", "home_teaching")
AT_SCHOOL = ("enrolled", "home_taught", "out_of_county")


def school_year(year: int) -> tuple[date, date]:
    """The first day of school year `year` and the day its figures are read on (its last day, or
    today while it runs)."""
    start, end = date(year, 9, 1), date(year + 1, 8, 31)
    return start, min(end, calendar.today())


def semesters_of(year: int) -> list[str]:
    """The semesters of school year `year` that have begun: `year`-autumn, then `year+1`-spring."""
    out = [Semester(year, "autumn"), Semester(year + 1, "spring")]
    return [str(s) for s in out if s.opening_day <= calendar.today()]


def grade9(stage, grade):
    """SQL: the grade in the nine-year numbering (a junior school's 1-3 is 7-9)."""
    return case((and_(stage == "junior", grade < 7), grade + 6), else_=grade)


def _school_year_of(day):
    """SQL: the autumn year of the school year a day falls in."""
    return cast(func.extract("year", day), Integer) - case((func.extract("month", day) < 9, 1), else_=0)


async def roll_outcomes(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """控辍保学 monitoring of school year `year`: each child on a roll in scope during the year, and what
    it is on the day the year is read on. Returns, by stage, {base, left, kept, dropped} and the
    compulsory totals."""
    start, on = school_year(year)
    if on < start:
        return {"by_stage": {}, "compulsory": {"base": 0, "left": 0, "kept": 0, "dropped": 0}}
    e = EnrollmentSpan
    in_period = and_(e.status.in_(ON_ROLL), e.valid_from <= on, or_(e.valid_to.is_(None), e.valid_to > start))
    candidates = select(e.student_id).where(in_period, scope.where(e))
    # The child's last place on a roll in the period (one place per child), then the scope's filter.
    placed = (
        select(e.student_id, e.stage, e.grade, e.compulsory, e.area_code, e.school_code, e.village_code,
               e.categories)
        .where(in_period, e.student_id.in_(candidates))
        .distinct(e.student_id)
        .order_by(e.student_id, e.valid_from.desc(), e.id.desc())
        .subquery()
    )  # fmt: skip
    roll = select(placed).where(scope.where(placed.c)).subquery()
    s = aliased(EnrollmentSpan)
    state = (
        select(s.student_id, s.status, s.stage, s.grade, s.compulsory, s.area_code)
        .where(s.valid_from <= on, s.student_id.in_(select(roll.c.student_id)))
        .distinct(s.student_id)
        .order_by(s.student_id, s.valid_from.desc(), s.id.desc())
        .subquery()
    )
    elsewhere = and_(
        state.c.compulsory.is_(True),
        state.c.area_code.is_not(None),
        roll.c.area_code.is_not(None),
        func.left(state.c.area_code, 6) != func.left(roll.c.area_code, 6),
    )
    left = or_(state.c.status.in_(LEFT), and_(state.c.status.in_(AT_SCHOOL), elsewhere))
    completed = and_(  # finished compulsory school (初中毕业), or gone on to the next stage
        state.c.status == "graduated", state.c.compulsory.is_(True), grade9(state.c.stage, state.c.grade) >= 9
    )
    went_on = and_(state.c.status.in_(IN_SCHOOL), state.c.compulsory.is_(False), roll.c.compulsory.is_(True))
    kept = and_(~left, or_(state.c.status.in_(IN_SCHOOL), completed, went_on))
    dropped = and_(~left, state.c.status == "dropped_out")
    stmt = (
        select(
            roll.c.stage,
            roll.c.compulsory,
            func.count(),
            func.count().filter(left),
            func.count().filter(kept),
            func.count().filter(dropped),
        )
        .select_from(roll.join(state, state.c.student_id == roll.c.student_id))
        .group_by(roll.c.stage, roll.c.compulsory)
    )
    by_stage: dict[str, dict] = {}
    compulsory = {"base": 0, "left": 0, "kept": 0, "dropped": 0}
    async with path.across_scopes(session):
        rows = (await session.execute(stmt)).all()
    for stage, is_compulsory, n, n_left, n_kept, n_dropped in rows:
        counts = {"base": n, "left": n_left, "kept": n_kept, "dropped": n_dropped}
        into = by_stage.setdefault(stage or "unknown", dict.fromkeys(counts, 0))
        for k, v in counts.items():
            into[k] += v
            if is_compulsory:
                compulsory[k] += v
    return {"by_stage": dict(sorted(by_stage.items())), "compulsory": compulsory}


async def consolidation_cohort(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """九年义务教育巩固率 (cohort): the cohort due to finish grade 9 in summer `year`; of them, those who
    graduated from grade 9 by 31 August `year`.

    A child's cohort follows from its first compulsory enrollment (its grade then, in the nine-year
    numbering); a child who joined later (转入) joins its cohort's base. Deaths and documented moves
    (转出, 县外就读) leave the base. A child is placed by its last compulsory enrollment.
    """
    end = date(year, 8, 31)
    e, mine = EnrollmentSpan, aliased(EnrollmentSpan)
    ours = select(mine.student_id).where(mine.compulsory.is_(True), scope.where(mine))  # the index's way in
    first = (
        select(e.student_id, e.valid_from, e.stage, e.grade)
        .where(e.compulsory.is_(True), e.grade.is_not(None), e.student_id.in_(ours))
        .distinct(e.student_id)
        .order_by(e.student_id, e.valid_from, e.id)
        .subquery()
    )
    due = _school_year_of(first.c.valid_from) + 1 + (9 - grade9(first.c.stage, first.c.grade))
    cohort = select(first.c.student_id).where(due == year)
    last = (
        select(e.student_id, e.status, e.stage, e.grade, e.area_code, e.school_code, e.village_code,
               e.categories)
        .where(e.compulsory.is_(True), e.valid_from <= end, e.student_id.in_(cohort))
        .distinct(e.student_id)
        .order_by(e.student_id, e.valid_from.desc(), e.id.desc())
        .subquery()
    )  # fmt: skip
    left = last.c.status.in_((*LEFT, "out_of_county"))
    graduated = and_(last.c.status == "graduated", grade9(last.c.stage, last.c.grade) >= 9)
    stmt = select(func.count().filter(~left), func.count().filter(graduated)).where(scope.where(last.c))
    async with path.across_scopes(session):
        base, done = (await session.execute(stmt)).one()
    return ratio(done, base)


def _age_window(year: int) -> tuple[date, date]:
    """Birth dates of school-age children (6-15 on 1 September `year`)."""
    on = date(year, 9, 1)
    youngest = date(on.year - COMPULSORY_AGES.start, on.month, on.day)
    oldest = date(on.year - COMPULSORY_AGES.stop, on.month, on.day)
    return oldest, youngest  # born after `oldest`, on or before `youngest`


async def disabled_enrollment(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """残疾儿童入学率: school-age (6-15 on 1 September) disabled children on the roll; of them, those
    placed at a special school, in a regular class (随班就读) or taught at home (送教上门).

    The year's placement record decides where there is one; else the child's state (at school or
    home-taught counts). 送教上门 is shown separately (`home_teaching`, also among the placed).
    """
    s, p = StudentFact, PlacementFact
    oldest, youngest = _age_window(year)
    record = select(p.placement).where(p.student_id == s.student_id, p.year == year).scalar_subquery()
    has_record = exists().where(p.student_id == s.student_id, p.year == year)
    placed = or_(record.in_(PLACED), and_(~has_record, s.status.in_(AT_SCHOOL)))
    home = or_(record == "home_teaching", and_(~has_record, s.status == "home_taught"))
    stmt = select(func.count(), func.count().filter(placed), func.count().filter(home)).where(
        s.groups.any("disabled"),
        s.birth_date > oldest,
        s.birth_date <= youngest,
        s.status.not_in(LEFT),
        scope.where(s),
    )
    children, n_placed, n_home = (await session.execute(stmt)).one()
    return ratio(n_placed, children) | {"home_teaching": n_home}


async def notice_acknowledged(session: AsyncSession, scope: FigureScope, *, semesters: list[str]) -> dict:
    """告知率: notices issued (a child paid in a semester gets one notice for it) ÷ acknowledged."""
    pf, n = PaymentFact, NoticeFact
    issued = (
        select(pf.student_id, pf.semester)
        .where(pf.status == "paid", pf.semester.in_(semesters), scope.where(pf))
        .distinct()
        .subquery()
    )
    acked = exists().where(n.student_id == issued.c.student_id, n.semester == issued.c.semester)
    total, done = (
        await session.execute(select(func.count(), func.count().filter(acked)).select_from(issued))
    ).one()
    return ratio(done, total)


async def progression(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """升学率: 初升高 (junior → senior / vocational) and 高中/中职升大学 (→ higher education)."""
    return {
        "progression_junior_senior": await path.progression_junior_senior(session, scope, year=year),
        "progression_senior_higher": await path.progression_senior_higher(session, scope, year=year),
    }


def dropout_rates(outcomes: dict) -> dict:
    """Dropout rate by stage (辍学率) from the roll's outcomes; compulsory alone for 零辍学."""

    def rate(c: dict) -> dict:
        return ratio(c["dropped"], c["base"] - c["left"])

    return {
        "dropout_compulsory": rate(outcomes["compulsory"]),
        "dropout_by_stage": {stage: rate(c) for stage, c in outcomes["by_stage"].items()},
    }
