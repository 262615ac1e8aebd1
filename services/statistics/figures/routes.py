"""Figure endpoints: JSON by default, `?format=csv|xlsx` exports the same figures."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.contracts import calendar
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.statistics.figures import queries, rollups
from services.statistics.figures.breakdown import GroupBy, figure, refuse
from services.statistics.figures.export import export
from services.statistics.scope import FigureScope, Scope

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])
Semester = Annotated[str | None, Query(pattern=r"^20[0-9]{2}-(spring|autumn)$", examples=["2026-autumn"])]
# A school year ends in the spring after it: 2099 is the last whose semesters exist (≤ 2100).
Year = Annotated[int | None, Query(ge=2000, le=2099, examples=[2026])]
Format = Annotated[Literal["json", "csv", "xlsx"], Query(description="json, or an export: csv / xlsx")]
EXPORTABLE = {
    200: {
        "content": {"text/csv": {}, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": {}}
    },
    **problems(404, 503),  # an area or school outside the caller's; 503: projections lagging (kit.barrier)
}


def with_example(example: dict) -> dict:
    """The export responses, with a JSON example of the figure."""
    content = {"application/json": {"example": example}, **EXPORTABLE[200]["content"]}
    return {**EXPORTABLE, 200: {"content": content}}


SUBSIDY_EXAMPLE = {
    "area_code": "610928",
    "students": 1210,
    "person_times": 2398,
    "amount_fen": 149875000,
    "households": 1033,
    "by_stage": {"junior": {"students": 410, "person_times": 812, "amount_fen": 50750000, "by_category": {}}},
    "by_semester": {"2019-spring": {"students": 1190, "person_times": 1199, "amount_fen": 74937500}},
    "by_policy_kind": {"living_allowance": {"students": 1210, "person_times": 2398, "amount_fen": 149875000}},
    "by_hardship_level": {"especially_hard": {"students": 310, "person_times": 612, "amount_fen": 45900000}},
    "by_share": {"central": 119900000, "provincial": 14987500, "county": 14987500},
    "loans": {
        "count": 2,
        "amount_fen": 1600000,
        "by_lender": {"国家开发银行": {"count": 2, "amount_fen": 1600000}},
    },
    "as_of": {"registry": 1204, "subsidy": 356},
}
RATES_EXAMPLE = {
    "area_code": "610928",
    "year": 2025,
    "consolidation_cohort": {"numerator": 4105, "denominator": 4120, "rate": 0.9964},
    "consolidation_monitoring": {"numerator": 30911, "denominator": 30920, "rate": 0.9997},
    "dropout_compulsory": {"numerator": 2, "denominator": 30920, "rate": 0.0001},
    "progression_junior_senior": {"numerator": 182, "denominator": 190, "rate": 0.9579},
    "progression_senior_higher": {"numerator": 95, "denominator": 120, "rate": 0.7917},
    "coverage": {"numerator": 2398, "denominator": 2398, "rate": 1.0},
    "disabled_enrollment": {"numerator": 37, "denominator": 38, "rate": 0.9737, "home_teaching": 6},
    "notice_acknowledged": {"numerator": 1150, "denominator": 1199, "rate": 0.9591},
    "dropout_by_stage": {"junior": {"numerator": 2, "denominator": 10300, "rate": 0.0002}},
    "as_of": {"dropout": 88, "registry": 1204, "subsidy": 356},
}
RATES_DOC = """Each rate as `{"numerator", "denominator", "rate"}` (a fraction, 4 decimals; null when the
denominator is 0). `year` Y is the school year that begins on 1 September Y (2025 = 2025-2026 学年); a
year lock freezes every rate of the year as it stood (later events do not move them).

- `consolidation_cohort` (九年义务教育巩固率, cohort): the cohort due to finish grade 9 in summer Y — a
  child's cohort follows from its first compulsory enrollment (grade 1 in autumn Y-9, or a later grade
  for a child who joined later: documented moves in) — minus deaths and documented moves out (转出,
  县外就读); numerator: those who graduated from grade 9 by 31 August Y.
- `consolidation_monitoring` (控辍保学巩固率): children on a compulsory-stage roll at any time from
  1 September Y to the base date (31 August Y+1, or today while the year runs), minus those who died or
  moved away by the base date (转出, or at school in another county); numerator: those in school on the
  base date — at school, 送教上门, or documented 县外就读 — or who finished grade 9 / went on to the next
  stage. A primary graduate who did not go on, a suspended (休学), deferred (缓学) or dropped-out child
  is not kept.
- `dropout_compulsory` (义务教育辍学率, 零辍学): of the same base, those dropped out on the base date;
  `dropout_by_stage`: the same for every stage, by the stage of the child's last roll.
- `progression_junior_senior` (初升高): junior graduates of calendar year Y ÷ … of them enrolled by
  30 September Y at a senior, vocational or other stage-3 school, in any county;
  `progression_senior_higher` (高中/中职升大学): senior and vocational graduates of Y ÷ … of them in
  higher education by 30 September Y.
- `coverage` (资助覆盖率), in child-semesters over the semesters of school year Y that have begun
  (Y-autumn, Y+1-spring): children at school in the semester (up to today while it runs) eligible under
  a policy in force that semester (its stages, aid categories, boarding rule and area) ÷ … of them paid
  that semester, here or recorded as paid elsewhere (区域外资助).
- `disabled_enrollment` (残疾儿童入学率): disabled children aged 6-15 on 1 September Y on the roll
  (not deceased or moved away) ÷ … placed at a special school, in a regular class (随班就读) or taught at
  home (送教上门) by the year's placement record, or at school when there is none; `home_teaching`:
  送教上门 among them, shown separately.
- `notice_acknowledged` (告知率): notices issued (a child paid in a semester of school year Y gets one
  notice for it) ÷ … acknowledged by the parents.

Children are placed by school (`basis=school`) or by household village (`basis=household`);
`group_by=` gives every rate for each group too."""


def current_semester(today: date | None = None) -> str:
    """Return today's semester (the contracts' calendar: spring February–July, autumn August–January)."""
    return str(calendar.Semester.of(today or calendar.today()))


def year_of(semester: str) -> int:
    """Return the calendar year a semester is counted in (`2026-autumn` → 2026)."""
    return calendar.Semester.parse(semester).year


def _out(name: str, title: str, scope: FigureScope, payload: dict, fmt: str) -> Any:
    payload = {
        "area_code": scope.area_code,
        **({"school_code": scope.school_code} if scope.school_code else {}),
        **payload,
    }
    if scope.as_of is not None and fmt == "json":
        payload["as_of"] = scope.as_of.public()  # every write acknowledged before the request is counted
    return payload if fmt == "json" else export(name, payload, fmt, title=title)


Dims = tuple[str, ...]
ALL: Dims = ("township", "school", "village", "stage", "category", "household")


@router.get(
    "/subsidy",
    summary="Aid paid: persons, households, person-times, amounts; by funding share and hardship level",
    responses=with_example(SUBSIDY_EXAMPLE),
)
async def subsidy_stats(
    session: SessionDep,
    scope: Scope,
    year: Year = None,
    semester: Semester = None,
    group_by: GroupBy = None,
    format: Format = "json",
) -> Any:
    """Only lines still paid count (imported history, kind `history`, too): a line the bank returned
    (`failed`) stops counting at once; its re-payment in a follow-up batch counts instead (the child and
    the person-time once). Persons and households are distinct; person-times count payments.
    `by_share`: amounts by funding share (central, provincial, county; a line without shares counts as
    county money); `by_hardship_level`: lines of children with an approved hardship level. `loans`:
    student loans recorded for the year (the semester's year; every year when neither is given)."""
    y = year or (year_of(semester) if semester else None)
    payload = await figure(
        session, scope, "subsidy", year=y, period=semester or "", group_by=group_by,
        compute=lambda sc: queries.subsidy(session, sc, year=year, semester=semester),
        grouped=lambda sc, dim, values: rollups.subsidy_groups(
            session, sc, dim, values, year=year, semester=semester),
    )  # fmt: skip
    return _out("subsidy", "资助统计", scope, payload, format)


@router.get("/enrollment", summary="Students enrolled (or home-taught)", responses=EXPORTABLE)
async def enrollment_stats(
    session: SessionDep,
    scope: Scope,
    semester: Semester = None,
    group_by: GroupBy = None,
    format: Format = "json",
) -> Any:
    """Current when `semester` is omitted; otherwise on the semester's census day (31 Mar / 30 Sep)."""
    payload = await figure(
        session, scope, "enrollment", year=year_of(semester) if semester else None, period=semester or "",
        group_by=group_by, compute=lambda sc: queries.enrollment(session, sc, semester=semester),
        grouped=None if semester else (
            lambda sc, dim, values: rollups.enrollment_groups(session, sc, dim, values)),
    )  # fmt: skip
    return _out("enrollment", "在校生统计", scope, payload, format)


@router.get("/coverage", summary="Coverage of eligible students this semester", responses=EXPORTABLE)
async def coverage_stats(
    session: SessionDep,
    scope: Scope,
    semester: Semester = None,
    group_by: GroupBy = None,
    format: Format = "json",
) -> Any:
    """Children eligible under a policy in force that semester (its stages, aid categories, boarding
    rule and area), at school at some time in the semester (up to today while it runs); of them, those
    covered this semester.

    Covered: paid here at least once (`paid`), or aid of the semester recorded as paid by another county
    or province (`paid_elsewhere`: those not also paid here). `unpaid`: eligible and not covered.
    `coverage` = (paid + paid_elsewhere) ÷ eligible.
    """
    sem = semester or current_semester()
    payload = await figure(
        session, scope, "coverage", year=None, group_by=group_by,
        compute=lambda sc: queries.coverage(session, sc, semester=sem),
    )  # fmt: skip
    return _out("coverage", "资助覆盖率", scope, payload, format)


@router.get("/verification", summary="Start-of-semester check (开学核查)", responses=EXPORTABLE)
async def verification_stats(
    session: SessionDep,
    scope: Scope,
    semester: Semester = None,
    group_by: GroupBy = None,
    format: Format = "json",
) -> Any:
    """A check is one school's: this figure breaks down by `school` or `township` only, by school."""
    refuse("verification", ("school", "township"), group_by, scope)
    semester = semester or current_semester()
    payload = await figure(
        session, scope, "verification", year=year_of(semester), period=semester, group_by=group_by,
        compute=lambda sc: queries.verification(session, sc, semester=semester),
    )  # fmt: skip
    return _out("verification", "开学核查", scope, {"semester": semester, **payload}, format)


@router.get(
    "/dropout", summary="Dropout cases, returns, consolidation and dropout rates", responses=EXPORTABLE
)
async def dropout_stats(
    session: SessionDep, scope: Scope, year: Year = None, group_by: GroupBy = None, format: Format = "json"
) -> Any:
    """Cases opened in calendar year `year`; `returned` counts confirmed returns. `consolidation_*`: the
    控辍保学 monitoring rate of school year `year` (base, kept, rate) and `dropout_compulsory` /
    `dropout_by_stage`, as `GET /stats/rates` defines them."""
    y = year or calendar.today().year
    payload = await figure(
        session, scope, "dropout", year=y, group_by=group_by,
        compute=lambda sc: queries.dropout(session, sc, year=y),
    )  # fmt: skip
    return _out("dropout", "控辍保学", scope, payload, format)


@router.get("/disability", summary="Disabled children: placements and enrollment rate", responses=EXPORTABLE)
async def disability_stats(
    session: SessionDep, scope: Scope, year: Year = None, group_by: GroupBy = None, format: Format = "json"
) -> Any:
    """`children`, `by_placement`: the year's placement records. `enrollment_rate` = `placed` ÷
    `school_age_disabled` (disabled children aged 6-15 on 1 September on the roll; placed: special school,
    regular class or 送教上门 by the year's record, or at school without one); `home_teaching` (送教上门)
    shown separately."""
    y = year or calendar.today().year
    payload = await figure(
        session, scope, "disability", year=y, group_by=group_by,
        compute=lambda sc: queries.disability(session, sc, year=y),
    )  # fmt: skip
    return _out("disability", "残疾儿童", scope, payload, format)


@router.get(
    "/rates",
    summary="Rates by their official definitions: 巩固率, 辍学率, 升学率, coverage, 残疾儿童入学率, 告知率",
    description=RATES_DOC,
    responses=with_example(RATES_EXAMPLE),
)
async def rates_stats(
    session: SessionDep, scope: Scope, year: Year = None, group_by: GroupBy = None, format: Format = "json"
) -> Any:
    y = year or calendar.school_year_start(calendar.today()).year
    payload = await figure(
        session,
        scope,
        "rates",
        year=y,
        group_by=group_by,
        compute=lambda sc: queries.rates(session, sc, year=y),
    )
    return _out("rates", "比率", scope, {"year": y, **payload}, format)


__all__ = ["ALL", "FigureScope", "Response", "router"]
