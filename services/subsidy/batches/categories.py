"""Aid categories as of a semester: the household's dated statuses, plus the student's own groups.

A household status covers a semester when it is in force on the semester's census day
(calendar.Semester.census_day), or began later within the semester (a family registered poor in
November is owed that autumn's aid: 补发 for the semester it began in). A student whose household
the service has not heard of since it began keeping dated statuses is judged by the categories the
registry last derived (its current ones). The mapping from statuses to categories is the contracts'
`categories_of`, read once here, so this file and the registry cannot disagree.
"""

from datetime import date

from sqlalchemy import and_, case, exists, false, func, literal, or_, select, union
from sqlalchemy.dialects.postgresql import ARRAY, aggregate_order_by
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.types import String

from services.contracts.calendar import Semester
from services.contracts.vocabulary import HOUSEHOLD_CATEGORIES, Category, HouseholdStatus, categories_of
from services.subsidy.projection.models import HouseholdFact, HouseholdStatusFact, StudentFact

S = StudentFact.__table__.c
H = HouseholdStatusFact.__table__.c
HF = HouseholdFact.__table__.c

# Each household status kind → the one aid category it gives (lifted still gives 原建档立卡).
KIND_CATEGORY: dict[str, str] = {
    str(kind): str(cats[0])
    for kind in HouseholdStatus
    if (cats := categories_of(groups=[], household_kinds={str(kind)}))
}
OWN_CATEGORIES = tuple(sorted(str(c) for c in Category if c not in HOUSEHOLD_CATEGORIES))


def covers(since: date, until: date | None, semester: Semester) -> bool:
    """Whether a dated status covers a semester (the Python twin of `_in_force`)."""
    return since <= semester.last_day and (until is None or until >= semester.census_day)


def _in_force(semester: Semester) -> ColumnElement:
    return and_(
        H.household_id == S.household_id,
        H.since <= semester.last_day,
        or_(H.until.is_(None), H.until >= semester.census_day),
    )


def _household_known() -> ColumnElement:
    return exists().where(HF.household_id == S.household_id)


def has_category(semester: str, categories: list[str]) -> ColumnElement:
    """SQL: the projected student has one of `categories` in `semester`."""
    sem = Semester.parse(semester)
    wanted = set(categories)
    kinds = sorted(k for k, c in KIND_CATEGORY.items() if c in wanted)
    own = sorted(wanted.intersection(OWN_CATEGORIES))
    by_household = exists().where(_in_force(sem), H.kind.in_(kinds)) if kinds else false()
    by_own = S.categories.overlap(_array(own)) if own else false()
    current = func.coalesce(S.categories.overlap(_array(sorted(wanted))), false())
    return case((_household_known(), or_(by_household, func.coalesce(by_own, false()))), else_=current)


def categories_at(semester: str) -> ColumnElement:
    """SQL: the projected student's aid categories in `semester` (sorted), for a line's snapshot."""
    sem = Semester.parse(semester)
    mapped = case(*[(H.kind == kind, literal(str(cat))) for kind, cat in KIND_CATEGORY.items()])
    student = StudentFact.__table__
    from_household = select(mapped.label("c")).where(_in_force(sem), H.kind.in_(list(KIND_CATEGORY)))
    own = func.unnest(S.categories).table_valued("c").render_derived(name="own")
    from_own = select(own.c.c).where(own.c.c.in_(OWN_CATEGORIES))
    # Derived tables of a scalar subquery may read the outer row (no LATERAL needed at that level).
    from_household, from_own = from_household.correlate(student), from_own.correlate(student)
    both = union(from_household, from_own).subquery()
    derived = select(func.coalesce(func.array_agg(aggregate_order_by(both.c.c, both.c.c)), _array([])))
    return case((_household_known(), derived.scalar_subquery()), else_=S.categories)


def _array(values: list[str]):
    return literal(values, ARRAY(String(30)))
