"""Progression (升学): each graduate of a year in the caller's area, and whether it went on.

A graduate is a `graduate` change dated in the year; it continued when an `enroll` change followed it
(at a school of any county). The caller's graduates are those of its schools or of its villages, as
the graduate change recorded them (school area, household village), even when the student is now
another county's: the list reads across scopes on purpose, with that filter as its wall (kit.rls).
"""

from datetime import date

from sqlalchemy import and_, or_, select, true
from sqlalchemy.orm import aliased
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import (
    HOUSEHOLD_CATEGORIES,
    LIANGHOUSHENG_STAGES,
    ChangeKind,
    ProgressionStatus,
)
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden
from services.kit.pagination import paginate
from services.kit.rls import as_system, within
from services.registry.students.models import EnrollmentChange, Student

READERS = (Role.admin, Role.county, Role.township, Role.village, Role.school)
GRADUATE, NEXT = aliased(EnrollmentChange, name="graduate"), aliased(EnrollmentChange, name="next")


def graduates_of(principal: Principal, area_code: str | None = None):
    """Graduate changes of the caller's schools or villages (and inside `area_code`, when given)."""
    g = GRADUATE
    if principal.role is Role.school:
        mine = g.from_school_code == principal.school_code
    elif principal.role is Role.village:
        mine = within(g.village_code, principal.area_code)
    else:
        mine = or_(within(g.from_area_code, principal.area_code), within(g.village_code, principal.area_code))
    if area_code:
        mine = and_(mine, or_(within(g.from_area_code, area_code), within(g.village_code, area_code)))
    return mine


def _next_enroll():
    """The first enroll after the graduation (a lateral subquery: one per graduate)."""
    n = NEXT
    return (
        select(n.to_school_code, n.stage, n.effective_date)
        .where(
            n.student_id == GRADUATE.student_id,
            n.kind == ChangeKind.enroll.value,
            n.from_status.is_not(None),  # not the registration
            n.created_at > GRADUATE.created_at,
        )
        .order_by(n.created_at)
        .limit(1)
        .lateral("next_enroll")
    )


def progression_query(
    principal: Principal, *, year: int, area_code: str | None, status: ProgressionStatus | None,
    poor_only: bool,
):
    """The caller's graduates of `year` with their next enrollment, if any."""
    g, nxt = GRADUATE, _next_enroll()
    stmt = (
        select(
            g.id.label("change_id"), g.student_id, g.stage.label("from_stage"), g.grade.label("from_grade"),
            g.from_school_code, g.effective_date.label("graduated_on"), Student.name, Student.household_id,
            Student.village_code, Student.categories, nxt.c.stage.label("to_stage"),
            nxt.c.to_school_code, nxt.c.effective_date.label("enrolled_on"),
        )
        .join(Student, Student.id == g.student_id)
        .outerjoin(nxt, true())
        .where(
            g.kind == ChangeKind.graduate.value,
            g.effective_date >= date(year, 1, 1),
            g.effective_date <= date(year, 12, 31),
            graduates_of(principal, area_code),
        )
    )
    if poor_only:  # 两后生: junior or senior graduates of poor households who did not go on
        status = ProgressionStatus.not_continued
        stmt = stmt.where(
            g.stage.in_([s.value for s in LIANGHOUSHENG_STAGES]),
            Student.categories.overlap([c.value for c in HOUSEHOLD_CATEGORIES]),
        )
    if status is ProgressionStatus.continued:
        stmt = stmt.where(nxt.c.stage.is_not(None))
    elif status is ProgressionStatus.not_continued:
        stmt = stmt.where(nxt.c.stage.is_(None))
    return stmt


def _item(row) -> dict:
    went_on = row.to_stage is not None
    return {
        "student_id": row.student_id,
        "name": row.name,
        "from_stage": row.from_stage,
        "from_grade": row.from_grade,
        "from_school_code": row.from_school_code,
        "graduated_on": row.graduated_on,
        "status": ProgressionStatus.continued if went_on else ProgressionStatus.not_continued,
        "to_stage": row.to_stage,
        "to_school_code": row.to_school_code,
        "enrolled_on": row.enrolled_on,
        "household_id": row.household_id,
        "village_code": row.village_code,
        "categories": list(row.categories),
    }


async def list_progression(
    session: AsyncSession, principal: Principal, *, year: int, area_code: str | None,
    status: ProgressionStatus | None, poor_only: bool, limit: int, cursor: str | None,
) -> dict:
    """Page through the caller's graduates of a year, by graduation date."""
    if principal.role not in READERS:
        raise Forbidden("Only education and area users read progression")
    stmt = progression_query(principal, year=year, area_code=area_code, status=status, poor_only=poor_only)
    # The graduate may now be another county's (its student row is walled away from the caller):
    # `graduates_of` is this read's wall (kit.rls).
    async with as_system(session):
        return await paginate(
            session,
            stmt,
            order_by=[GRADUATE.effective_date, GRADUATE.id],
            limit=limit,
            cursor=cursor,
            key=lambda r: [r.graduated_on, r.change_id],
            to_item=_item,
        )
