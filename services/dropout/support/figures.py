"""受扶持率 and a visit month's coverage: who should have a helper, who has one, who was visited."""

from datetime import date, datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import school_year_start, start_of_day
from services.contracts.vocabulary import AT_SCHOOL, COMPULSORY_STAGES
from services.dropout.cases.models import Case, CaseAction
from services.dropout.students.models import Student
from services.dropout.students.scope import visible_to
from services.dropout.students.unregistered import NOT_REGISTERED
from services.dropout.support.models import Pairing, SupportRecord
from services.kit.auth import Principal
from services.kit.rls import within

GONE = ("deceased", "graduated", "transferred_out", NOT_REGISTERED)


def should_have_helper(on: date) -> ColumnElement[bool]:
    """SQL on `student`: a child of a poor household (aid categories non-empty), enrolled or of
    compulsory age (primary/junior, or 6-15 on 1 September of the school year)."""
    year = school_year_start(on).year
    compulsory_age = and_(
        Student.birth_date > date(year - 16, 9, 1), Student.birth_date <= date(year - 6, 9, 1)
    )
    return and_(
        func.cardinality(Student.categories) > 0,
        Student.status.notin_(GONE),
        or_(
            Student.status.in_([s.value for s in AT_SCHOOL]),
            Student.stage.in_(COMPULSORY_STAGES),
            compulsory_age,
        ),
    )


def in_area(area: str) -> ColumnElement[bool]:
    """A child belongs to an area by its household's village or by its school's area."""
    return or_(within(Student.village_code, area), within(Student.area_code, area))


def helped_on(on: date) -> ColumnElement[bool]:
    return exists().where(
        Pairing.student_id == Student.id,
        Pairing.since <= on,
        or_(Pairing.until.is_(None), Pairing.until >= on),
    )


async def support_rate(session: AsyncSession, principal: Principal, *, area: str, on: date) -> dict:
    """Count the children who should have a helper in an area (the caller's part of it) and those who do."""
    helped = helped_on(on)
    children, with_helper = (
        await session.execute(
            select(func.count(), func.count().filter(helped)).where(
                visible_to(principal), in_area(area), should_have_helper(on)
            )
        )
    ).one()
    return {
        "area_code": area,
        "on": on,
        "children": children,
        "with_helper": with_helper,
        "without_helper": children - with_helper,
        "rate": round(with_helper / children, 4) if children else None,
    }


def month_bounds(month: str) -> tuple[datetime, datetime]:
    """Return the start of a month (YYYY-MM) and of the next, in the deployment's zone."""
    first = date(int(month[:4]), int(month[5:7]), 1)
    return start_of_day(first), start_of_day(last_day(month) + timedelta(days=1))


def last_day(month: str) -> date:
    first = date(int(month[:4]), int(month[5:7]), 1)
    return (first + timedelta(days=32)).replace(day=1) - timedelta(days=1)


async def coverage(session: AsyncSession, principal: Principal, *, area: str, month: str, on: date) -> dict:
    """A visit month's coverage: children who should have a helper, visited at home during the month."""
    start, end = month_bounds(month)
    by_helper = exists().where(
        SupportRecord.student_id == Student.id,
        SupportRecord.kind == "home_visit",
        SupportRecord.occurred_at >= start,
        SupportRecord.occurred_at < end,
    )
    on_case = exists().where(
        Case.student_id == Student.id,
        CaseAction.case_id == Case.id,
        CaseAction.kind == "home_visit",
        CaseAction.occurred_at >= start,
        CaseAction.occurred_at < end,
    )
    children, visited = (
        await session.execute(
            select(func.count(), func.count().filter(or_(by_helper, on_case))).where(
                visible_to(principal), in_area(area), should_have_helper(on)
            )
        )
    ).one()
    return {
        "children": children,
        "visited": visited,
        "rate": round(visited / children, 4) if children else None,
    }
