"""A policy's dated rules in SQL: which item (and so amount, shares) a projected student gets.

The Python side of the rules (their shape, order, one-off fall-through, shares) is
`policies.rules`; this file compiles the rules in force in a semester into one CASE over the
student projection, for generation (`reason_of`, lines) and back-pay to share.
"""

import json

from sqlalchemy import BigInteger, String, and_, case, cast, false, func, literal, not_, or_, select, true
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.sql.elements import ColumnElement

from services.contracts.calendar import Semester
from services.contracts.vocabulary import HARDSHIP_RANK, HardshipLevel, Stage
from services.subsidy.batches.categories import has_category
from services.subsidy.batches.models import Disbursement
from services.subsidy.hardship.models import Hardship
from services.subsidy.policies.models import Policy
from services.subsidy.policies.rules import ENTRY_GRADES, in_force, split
from services.subsidy.projection.models import StudentFact

S = StudentFact.__table__.c
H = Hardship.__table__.c
SPECIAL_AS = {Stage.primary.value: (1, 6), Stage.junior.value: (7, 9)}
# Junior and senior schools may number their grades 1-3: read as 7-9 / 10-12 (national numbering).
GRADE_OFFSET = {Stage.junior.value: 6, Stage.senior.value: 9, Stage.vocational.value: 9}


def stage_ok(stages: list[str]) -> ColumnElement:
    """SQL: the student's stage is one of `stages`; a special school's grades 1-9 are compulsory-stage
    (vocabulary.compulsory_stage): grades 1-6 count as primary, 7-9 as junior."""
    ok = S.stage.in_(stages)
    grades = [S.grade.between(*SPECIAL_AS[stage]) for stage in stages if stage in SPECIAL_AS]
    if grades and Stage.special not in stages:
        ok = or_(ok, and_(S.stage == Stage.special.value, or_(*grades)))
    return ok


def national_grade() -> ColumnElement:
    """SQL: the student's grade in the national numbering 1-12 (初一 = 7, 高一 = 10)."""
    whens = [
        (and_(S.stage == stage, S.grade <= 3), S.grade + offset) for stage, offset in GRADE_OFFSET.items()
    ]
    return case(*whens, else_=S.grade)


def new_entrant() -> ColumnElement:
    """SQL: the student is in the first grade of its stage (新生)."""
    return func.coalesce(national_grade().in_(ENTRY_GRADES), false())


def hardship_rank(semester: str) -> ColumnElement:
    """SQL: the rank (1-3) of the student's county-approved hardship level in the semester's school
    year, or 0."""
    year = Semester.parse(semester).school_year
    rank = select(func.max(H.rank)).where(
        H.student_id == S.student_id, H.school_year == year, H.status == "approved"
    )
    return func.coalesce(rank.scalar_subquery(), 0)


def hardship_level(semester: str) -> ColumnElement:
    """SQL: the student's approved hardship level in the semester's school year, or NULL."""
    rank = hardship_rank(semester)
    return case(*[(rank == r, literal(str(level))) for level, r in HARDSHIP_RANK.items()], else_=None)


def qualification(policy: Policy, semester: str) -> tuple[ColumnElement, str] | None:
    """SQL: the policy's own gate (its categories, or an approved hardship level at least its
    `min_hardship_level`), and the exclusion reason when it fails; None when it has no gate."""
    level = policy.min_hardship_level
    by_level = hardship_rank(semester) >= HARDSHIP_RANK[HardshipLevel(level)] if level else None
    if policy.categories:
        by_category = func.coalesce(has_category(semester, policy.categories), false())
        return (or_(by_category, by_level) if by_level is not None else by_category), "category"
    if by_level is not None:
        return by_level, "hardship"
    return None


def _already_given(policy: Policy, rule: dict, semester: str) -> ColumnElement:
    """SQL: a one-off item already given to the student for its stage (another semester's live line)."""
    other = Disbursement.__table__.alias("item_given")
    return (
        select(other.c.id)
        .where(
            other.c.student_id == S.student_id,
            other.c.policy_code == policy.code,
            other.c.item == rule["code"],
            other.c.stage == S.stage,
            other.c.status != "cancelled",
            other.c.semester != semester,
        )
        .exists()
    )


def _matches(policy: Policy, rule: dict, semester: str, *, given: bool) -> ColumnElement:
    conds: list[ColumnElement] = []
    if rule["stages"]:
        conds.append(func.coalesce(stage_ok(rule["stages"]), false()))
    if rule["grades"]:
        conds.append(func.coalesce(national_grade().in_(rule["grades"]), false()))
    if rule["boarding"] is not None:
        conds.append(func.coalesce(S.boarding, false()).is_(true() if rule["boarding"] else false()))
    if rule["new_entrant"] is not None:
        conds.append(new_entrant() if rule["new_entrant"] else not_(new_entrant()))
    if rule["categories"]:
        conds.append(func.coalesce(has_category(semester, rule["categories"]), false()))
    if rule["min_hardship_level"]:
        conds.append(hardship_rank(semester) >= HARDSHIP_RANK[HardshipLevel(rule["min_hardship_level"])])
    if rule["one_off"] and given:
        conds.append(not_(_already_given(policy, rule, semester)))
    return and_(true(), *conds)


def item_of(policy: Policy, semester: str, *, given: bool = True) -> ColumnElement:
    """SQL: the code of the first rule in force the student meets (with `given`, a one-off item
    already given for its stage is passed over), else NULL."""
    rules = in_force(policy.rules, semester)
    if not rules:
        return literal(None)
    return case(
        *[(_matches(policy, r, semester, given=given), literal(r["code"])) for r in rules], else_=None
    )


def has_one_off(policy: Policy, semester: str) -> bool:
    return any(r["one_off"] for r in in_force(policy.rules, semester))


def by_item(policy: Policy, semester: str, item: ColumnElement) -> dict[str, ColumnElement]:
    """SQL: a line's amount, one-off flag and shares (fen) from its item code."""
    rules = in_force(policy.rules, semester)
    amount = case(*[(item == r["code"], literal(r["amount_fen"])) for r in rules], else_=None)
    one_off = case(*[(item == r["code"], literal(bool(r["one_off"]))) for r in rules], else_=False)
    shares = case(
        *[
            (item == r["code"], cast(literal(json.dumps(split(r["amount_fen"], r["shares"])), String), JSONB))
            for r in rules
            if r.get("shares")
        ],
        else_=cast(literal(None), JSONB),
    ) if any(r.get("shares") for r in rules) else cast(literal(None), JSONB)  # fmt: skip
    return {"amount_fen": cast(amount, BigInteger), "one_off": one_off, "shares": shares}


def line_values(policy: Policy, semester: str, item: str | None, level: str | None) -> dict:
    """The same, in Python, for one line (back-pay)."""
    rule = next(r for r in in_force(policy.rules, semester) if r["code"] == item)
    return {
        "item": item,
        "amount_fen": rule["amount_fen"],
        "one_off": bool(rule["one_off"]),
        "shares": split(rule["amount_fen"], rule.get("shares")),
        "hardship_level": level,
    }
