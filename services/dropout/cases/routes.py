import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response
from sqlalchemy import Select

from services.dropout.cases import service
from services.dropout.cases.checks import daily_lifespan, run_checks
from services.dropout.cases.models import Case
from services.dropout.cases.schemas import (
    ActionCreate,
    CaseCreate,
    CasePublic,
    CaseUpdate,
    CheckResult,
    CheckRun,
)
from services.dropout.domain import CaseSource, CaseStatus, CloseOutcome, Level, ReasonGroup, today_local
from services.dropout.students.models import Student
from services.kit.auth import CurrentPrincipal, Role
from services.kit.db import SessionDep
from services.kit.errors import Forbidden, Invalid
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.settings import get_settings
from services.kit.versioning import IfMatch

router = APIRouter(prefix="/api/v1/dropout", tags=["dropout cases"], lifespan=daily_lifespan)


async def _one(session, pair) -> CasePublic:
    return (await service.to_public(session, [pair]))[0]


@router.get("/cases", response_model=Page[CasePublic], summary="List dropout cases")
async def list_cases(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    status: CaseStatus | None = None,
    reason_group: ReasonGroup | None = None,
    outcome: CloseOutcome | None = None,
    level: Level | None = None,
    source: CaseSource | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    opened_from: date | None = None,
    opened_to: date | None = None,
    updated_since: UpdatedSince = None,
):
    """Cases of the students in the caller's scope (village users: their village's), oldest change first.

    A case from a platform roster (`source` `verification`) for a child the registry does not know
    carries what the roster says (`student_name`, `id_number_masked`, `household_platform_id`,
    `village_code`; `student_registered` false) and is seen in the household's village, township
    and county. Once the registry registers the child with the same ID number, the case (same `id`,
    with its actions) belongs to the registry's student: `student_id` becomes that student's."""
    stmt: Select = service.in_scope(principal)
    filters = {
        Case.student_id: student_id,
        Case.status: status,
        Case.reason_group: reason_group,
        Case.outcome: outcome,
        Case.level: level,
        Case.source: source,
        Student.school_code: school_code,
    }
    stmt = stmt.where(*(col == value for col, value in filters.items() if value is not None))
    if area_code:
        stmt = stmt.where(within(Student.area_code, area_code))
    if opened_from:
        stmt = stmt.where(Case.opened_on >= opened_from)
    if opened_to:
        stmt = stmt.where(Case.opened_on <= opened_to)
    if updated_since:
        stmt = stmt.where(Case.updated_at >= updated_since)
    page = await paginate(
        session,
        stmt,
        order_by=[Case.updated_at, Case.id],
        limit=limit,
        cursor=cursor,
        key=lambda r: [r[0].updated_at, r[0].id],
        to_item=tuple,
    )
    page["items"] = await service.to_public(session, page["items"])
    return page


@router.post(
    "/cases",
    status_code=201,
    response_model=CasePublic,
    summary="Open a case by hand",
    responses=problems(403, 409),
)
async def create_case(data: CaseCreate, session: SessionDep, principal: CurrentPrincipal) -> CasePublic:
    """Open a case for a student (school, county); 409 when the student already has an active one."""
    return await _one(session, await service.create_case(session, principal, data=data))


@router.get(
    "/cases/{case_id}",
    response_model=CasePublic,
    summary="Read a case with its actions",
    responses=problems(404),
)
async def read_case(case_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> CasePublic:
    return await _one(session, await service.case_or_404(session, principal, case_id))


@router.patch(
    "/cases/{case_id}",
    response_model=CasePublic,
    summary="Set a case's reason group or note",
    responses=problems(403, 404, 409),
)
async def update_case(
    case_id: uuid.UUID,
    data: CaseUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> CasePublic:
    pair = await service.update_case(session, principal, case_id=case_id, data=data, if_match=if_match)
    return await _one(session, pair)


@router.post(
    "/cases/{case_id}/actions",
    status_code=201,
    response_model=CasePublic,
    summary="Record an action on a case",
    responses={
        200: {"model": CasePublic, "description": "Already recorded under this client id"},
        **problems(403, 404, 409),
    },
)
async def create_action(
    case_id: uuid.UUID,
    data: ActionCreate,
    session: SessionDep,
    principal: CurrentPrincipal,
    response: Response,
) -> CasePublic:
    """Contact, home visit, persuasion (劝返; village users too), escalate (school → township → county)
    or close with an outcome; a close as `returned` waits in `returned_pending` until the student has
    attended NOL_RETURN_CONFIRM_DAYS school days with no unexplained absence.

    Offline apps send their own `id` (a UUID): the same action sent again answers 200 with the case
    and records nothing; other content under that id is 409 `id_conflict`. An `occurred_at` up to 10
    minutes ahead of the server (a phone's fast clock) is taken as now."""
    case, student, replayed = await service.record_action(session, principal, case_id=case_id, data=data)
    if replayed:
        response.status_code = 200
    return await _one(session, (case, student))


@router.post(
    "/checks/run", response_model=CheckResult, summary="Run the daily checks now", responses=problems(403)
)
async def run_daily_checks(
    session: SessionDep, principal: CurrentPrincipal, data: CheckRun | None = None
) -> dict:
    """Run the escalation timer and the confirmation of returns for the caller's area (county, admin),
    as of today in the deployment's zone. The service runs them by itself every day at 02:00 local
    time. `today` is refused (422) unless the deployment allows it (NOL_ALLOW_CLOCK_OVERRIDE, tests)."""
    if principal.role not in (Role.admin, Role.county):
        raise Forbidden("Only county and admin users run the checks")
    if data and data.today and not get_settings().allow_clock_override:
        raise Invalid(["today"], "today cannot be chosen: the checks run as of today in the deployment")
    today = (data.today if data else None) or today_local()
    return await run_checks(session, area=principal.area_code, today=today)
