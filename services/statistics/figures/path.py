"""Figures of the whole path (学前到大学): loans, progression (初升高) and the rates built on them."""

import contextlib
from collections.abc import AsyncIterator
from datetime import date

from sqlalchemy import and_, exists, func, select, text
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.contracts.vocabulary import UPPER_SECONDARY_STAGES, EnrollmentStatus, Stage
from services.kit.rls import as_system
from services.statistics.facts.models import AidElsewhereFact, EnrollmentSpan, LoanFact
from services.statistics.scope import FigureScope

AT_SCHOOL = (EnrollmentStatus.enrolled, EnrollmentStatus.home_taught)


def ratio(numerator: int, denominator: int) -> dict:
    """A rate as the API names it: a fraction, null when nothing is counted."""
    return {
        "numerator": numerator,
        "denominator": denominator,
        "rate": round(numerator / denominator, 4) if denominator else None,
    }


async def loans(session: AsyncSession, scope: FigureScope, *, year: int | None) -> dict:
    """Student loans recorded in the year (all years without one): count, amount, by lender."""
    t = LoanFact
    where = [t.cancelled.is_(False), scope.where(t)] + ([t.year == year] if year else [])
    lender = func.coalesce(t.lender, "")
    rows = (
        await session.execute(
            select(lender, func.count(), func.coalesce(func.sum(t.amount_fen), 0))
            .where(*where)
            .group_by(lender)
            .order_by(lender)
        )
    ).all()
    return loans_of(rows)


def loans_of(rows) -> dict:
    """The loans figure from (lender, count, amount) rows in lender order ('' for no lender)."""
    by_lender = {name or "unknown": {"count": n, "amount_fen": int(amount)} for name, n, amount in rows}
    return {
        "count": sum(v["count"] for v in by_lender.values()),
        "amount_fen": sum(v["amount_fen"] for v in by_lender.values()),
        "by_lender": by_lender,
    }


def covered_elsewhere(semester: str):
    """Students whose aid this semester was paid by another county or province (区域外资助)."""
    a = AidElsewhereFact
    return select(a.student_id).where(a.semester == semester, a.cancelled.is_(False))


@contextlib.asynccontextmanager
async def across_scopes(session: AsyncSession) -> AsyncIterator[None]:
    """as_system, unless the transaction already sees every row (a year lock): never nest it, since
    leaving an inner as_system would put the caller's wall back in the middle of the outer block."""
    if await session.scalar(text("SELECT current_setting('nol.scope', true)")) == "system":
        yield
        return
    async with as_system(session):
        yield


async def progression_junior_senior(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """初升高: junior graduates of `year` in scope; of them, enrolled at a stage-3 school by 30 September.

    Junior graduates are counted whatever grade number their school gives the last year (9, or 3 of
    初中). The continuation may be in another county: that look-up crosses scopes on purpose (kit.rls),
    and only counts of the caller's own graduates come out of it.
    """
    return await _progression(
        session, scope, year=year, from_stages=(Stage.junior,), to_stages=UPPER_SECONDARY_STAGES
    )


async def progression_senior_higher(session: AsyncSession, scope: FigureScope, *, year: int) -> dict:
    """高中/中职升大学: senior and vocational graduates of `year` in scope; of them, enrolled in higher
    education (stage `higher`) by 30 September, anywhere."""
    return await _progression(
        session, scope, year=year, from_stages=UPPER_SECONDARY_STAGES, to_stages=(Stage.higher,)
    )


async def _progression(
    session: AsyncSession, scope: FigureScope, *, year: int, from_stages: tuple, to_stages: tuple
) -> dict:
    g, n = EnrollmentSpan, aliased(EnrollmentSpan)
    by = Semester(year, "autumn").census_day  # 30 September
    graduates = (
        select(g.student_id, func.min(g.valid_from).label("on"))
        .where(
            g.status == EnrollmentStatus.graduated,
            g.stage.in_(from_stages),
            g.valid_from >= date(year, 1, 1),
            g.valid_from <= date(year, 12, 31),
            scope.where(g),
        )
        .group_by(g.student_id)
        .subquery()
    )
    continued = exists().where(
        n.student_id == graduates.c.student_id,
        n.status.in_(AT_SCHOOL),
        n.stage.in_(to_stages),
        and_(n.valid_from >= graduates.c.on, n.valid_from <= by),
    )
    async with across_scopes(session):
        total, went_on = (
            await session.execute(select(func.count(), func.count().filter(continued)).select_from(graduates))
        ).one()
    return ratio(went_on, total)
