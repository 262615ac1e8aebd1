"""Figure endpoints: JSON by default, `?format=csv|xlsx` exports the same figures."""

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from services.contracts import calendar
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.statistics.figures import queries
from services.statistics.figures.export import export
from services.statistics.locks import serve
from services.statistics.scope import FigureScope, Scope

router = APIRouter(prefix="/api/v1/stats", tags=["statistics"])
Semester = Annotated[str | None, Query(pattern=r"^20[0-9]{2}-(spring|autumn)$", examples=["2026-autumn"])]
Year = Annotated[int | None, Query(ge=2000, le=2100, examples=[2026])]
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
    "loans": {
        "count": 2,
        "amount_fen": 1600000,
        "by_lender": {"国家开发银行": {"count": 2, "amount_fen": 1600000}},
    },
    "as_of": {"registry": 1204, "subsidy": 356},
}
RATES_EXAMPLE = {
    "area_code": "610928",
    "year": 2026,
    "progression_junior_senior": {"numerator": 182, "denominator": 190, "rate": 0.9579},
    "consolidation_cohort": {"numerator": 4105, "denominator": 4120, "rate": 0.9964},
    "disabled_enrollment": {"numerator": 37, "denominator": 38, "rate": 0.9737},
    "as_of": {"dropout": 88, "registry": 1204, "subsidy": 356},
}


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


@router.get(
    "/subsidy",
    summary="Aid paid: persons, households, person-times, amounts; student loans",
    responses=with_example(SUBSIDY_EXAMPLE),
)
async def subsidy_stats(
    session: SessionDep, scope: Scope, year: Year = None, semester: Semester = None, format: Format = "json"
) -> Any:
    """Only paid disbursements count (imported history, kind `history`, too). Persons and households are
    distinct; person-times count payments. `loans`: student loans recorded for the year (the semester's
    year; every year when neither is given), by lender."""
    y = year or (year_of(semester) if semester else None)

    async def compute() -> dict:
        return await queries.subsidy(session, scope, year=year, semester=semester)

    payload = (
        await serve(session, scope, "subsidy", year=y, period=semester or "", compute=compute)
        if y
        else await compute()
    )
    return _out("subsidy", "资助统计", scope, payload, format)


@router.get("/enrollment", summary="Students enrolled (or home-taught)", responses=EXPORTABLE)
async def enrollment_stats(
    session: SessionDep, scope: Scope, semester: Semester = None, format: Format = "json"
) -> Any:
    """Current when `semester` is omitted; otherwise on the semester's census day (31 Mar / 30 Sep)."""

    async def compute() -> dict:
        return await queries.enrollment(session, scope, semester=semester)

    payload = (
        await serve(session, scope, "enrollment", year=year_of(semester), period=semester, compute=compute)
        if semester
        else await compute()
    )
    return _out("enrollment", "在校生统计", scope, payload, format)


@router.get("/coverage", summary="Coverage of eligible students this semester", responses=EXPORTABLE)
async def coverage_stats(
    session: SessionDep, scope: Scope, semester: Semester = None, format: Format = "json"
) -> Any:
    """Eligible enrolled students (any aid category) covered this semester / eligible.

    Covered: paid here at least once (`paid`), or aid of the semester recorded as paid by another county
    or province (`paid_elsewhere`: those not also paid here). `unpaid`: eligible and not covered.
    """
    payload = await queries.coverage(session, scope, semester=semester or current_semester())
    return _out("coverage", "资助覆盖率", scope, payload, format)


@router.get("/verification", summary="Start-of-semester check (开学核查)", responses=EXPORTABLE)
async def verification_stats(
    session: SessionDep, scope: Scope, semester: Semester = None, format: Format = "json"
) -> Any:
    semester = semester or current_semester()

    async def compute() -> dict:
        return await queries.verification(session, scope, semester=semester)

    payload = await serve(
        session, scope, "verification", year=year_of(semester), period=semester, compute=compute
    )
    return _out("verification", "开学核查", scope, {"semester": semester, **payload}, format)


@router.get("/dropout", summary="Dropout cases, returns and consolidation rate", responses=EXPORTABLE)
async def dropout_stats(session: SessionDep, scope: Scope, year: Year = None, format: Format = "json") -> Any:
    """Cases opened in the year; `returned` counts confirmed returns; consolidation rate (巩固率)."""
    y = year or calendar.today().year

    async def compute() -> dict:
        return await queries.dropout(session, scope, year=y)

    payload = await serve(session, scope, "dropout", year=y, period="", compute=compute)
    return _out("dropout", "控辍保学", scope, payload, format)


@router.get("/disability", summary="Disabled children: placements and enrollment rate", responses=EXPORTABLE)
async def disability_stats(
    session: SessionDep, scope: Scope, year: Year = None, format: Format = "json"
) -> Any:
    """Enrollment rate = special school + regular class + home teaching / all placed children (0..1)."""
    y = year or calendar.today().year

    async def compute() -> dict:
        return await queries.disability(session, scope, year=y)

    payload = await serve(session, scope, "disability", year=y, period="", compute=compute)
    return _out("disability", "残疾儿童", scope, payload, format)


@router.get(
    "/rates",
    summary="Rates: 初升高 progression, consolidation (cohort), disabled children's enrollment",
    responses=with_example(RATES_EXAMPLE),
)
async def rates_stats(session: SessionDep, scope: Scope, year: Year = None, format: Format = "json") -> Any:
    """Each rate as `{"numerator", "denominator", "rate"}` (a fraction; null when nothing is counted).

    `progression_junior_senior` (初升高): junior graduates of the year in the area ÷ … of them enrolled by
    30 September at a senior or vocational school, in any county. The other rates API.md names
    (dropout_compulsory, coverage, notice_acknowledged) are not computed yet.
    """
    y = year or calendar.today().year

    async def compute() -> dict:
        return await queries.rates(session, scope, year=y)

    payload = await serve(session, scope, "rates", year=y, period="", compute=compute)
    return _out("rates", "比率", scope, {"year": y, **payload}, format)


__all__ = ["Response", "router"]
