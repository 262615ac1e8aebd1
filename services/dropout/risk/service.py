"""Early warning (辍学预警): a transparent, deterministic risk score per student, with its factors.

Points, summed (the score is 0-100+; level high from 40, medium from 20):

| factor                | points                                                        |
|-----------------------|---------------------------------------------------------------|
| unexplained_absences  | 10 per unexplained absence in the last 20 school days, max 40 |
| other_absences        | 2 per sick or leave absence in the same window, max 10        |
| active_case           | 25 when the student has an open, escalated or pending case    |
| prior_cases           | 15 per closed case, max 30                                    |
| household             | 10 per household category (registered_poor, monitored,       |
|                       | dibao, tekun), max 20                                         |
| left_behind           | 10 (留守)                                                     |
| orphan                | 10                                                            |
| disabled              | 10                                                            |
| grade_transition      | 10 in primary grade 6, junior grade 1 or junior grade 3       |

The window is the 20 school days ending at `as_of` by the calendar of the caller's area. Only
students currently enrolled are scored; ties are broken by student id, so the order is stable.
"""

from datetime import date

from sqlalchemy import Integer, and_, case, func, literal, or_, select
from sqlalchemy.sql.elements import ColumnElement

from services.dropout.absences.models import Absence
from services.dropout.cases.models import Case
from services.dropout.students.models import Student

WINDOW = 20
HOUSEHOLD = ("registered_poor", "monitored", "dibao", "tekun")
HIGH, MEDIUM = 40, 20


def _flag(condition: ColumnElement[bool], points: int) -> ColumnElement[int]:
    return case((condition, points), else_=0)


def risk_query(scope: ColumnElement[bool], *, window_start: date, as_of: date):
    """Return a subquery of scored students (columns: student fields, counts, p_<factor>, score, neg)."""
    absences = (
        select(
            Absence.student_id,
            func.count().filter(Absence.reason == "unexplained").label("unexplained"),
            func.count().filter(Absence.reason != "unexplained").label("other"),
        )
        .where(Absence.date.between(window_start, as_of))
        .group_by(Absence.student_id)
        .subquery()
    )
    cases = (
        select(
            Case.student_id,
            func.count().filter(Case.status == "closed").label("prior"),
            func.count().filter(Case.status != "closed").label("active"),
        )
        .group_by(Case.student_id)
        .subquery()
    )
    unexplained = func.coalesce(absences.c.unexplained, 0)
    other = func.coalesce(absences.c.other, 0)
    prior = func.coalesce(cases.c.prior, 0)
    household_n = sum((_flag(Student.categories.any(c), 1) for c in HOUSEHOLD), literal(0))
    points = {
        "unexplained_absences": func.least(unexplained * 10, 40),
        "other_absences": func.least(other * 2, 10),
        "active_case": _flag(func.coalesce(cases.c.active, 0) > 0, 25),
        "prior_cases": func.least(prior * 15, 30),
        "household": func.least(household_n * 10, 20),
        "left_behind": _flag(Student.groups.any("left_behind"), 10),
        "orphan": _flag(Student.groups.any("orphan"), 10),
        "disabled": _flag(or_(Student.groups.any("disabled"), Student.disability.is_not(None)), 10),
        "grade_transition": _flag(
            or_(
                and_(Student.stage == "primary", Student.grade == 6),
                and_(Student.stage == "junior", Student.grade.in_([1, 3])),
            ),
            10,
        ),
    }
    score = sum(points.values(), literal(0)).cast(Integer)
    return (
        select(
            Student.id,
            Student.name,
            Student.school_code,
            Student.area_code,
            Student.village_code,
            Student.stage,
            Student.grade,
            Student.categories,
            unexplained.label("n_unexplained"),
            other.label("n_other"),
            prior.label("n_prior"),
            *(expr.cast(Integer).label(f"p_{name}") for name, expr in points.items()),
            score.label("score"),
            (-score).label("neg"),
        )
        .outerjoin(absences, absences.c.student_id == Student.id)
        .outerjoin(cases, cases.c.student_id == Student.id)
        .where(scope, Student.status == "enrolled")
        .subquery()
    )


def _detail(name: str, row) -> str:
    return {
        "unexplained_absences": f"{row.n_unexplained} unexplained in the last {WINDOW} school days",
        "other_absences": f"{row.n_other} sick or leave in the last {WINDOW} school days",
        "active_case": "a dropout case is active",
        "prior_cases": f"{row.n_prior} earlier case(s)",
        "household": ", ".join(c for c in row.categories if c in HOUSEHOLD),
        "left_behind": "left-behind child (留守儿童)",
        "orphan": "orphan",
        "disabled": "disabled",
        "grade_transition": f"{row.stage} grade {row.grade}",
    }[name]


def to_item(row) -> dict:
    """Render a scored row with the factors that raised it, highest first."""
    factors = [
        {"factor": key[2:], "points": getattr(row, key), "detail": _detail(key[2:], row)}
        for key in row._fields
        if key.startswith("p_") and getattr(row, key)
    ]
    factors.sort(key=lambda f: (-f["points"], f["factor"]))
    return {
        "student_id": row.id,
        "name": row.name,
        "school_code": row.school_code,
        "area_code": row.area_code,
        "village_code": row.village_code,
        "stage": row.stage,
        "grade": row.grade,
        "score": row.score,
        "level": "high" if row.score >= HIGH else "medium" if row.score >= MEDIUM else "low",
        "factors": factors,
    }
