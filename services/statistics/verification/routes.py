import asyncio
import contextlib
import re
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Path, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from sqlalchemy import select
from starlette.datastructures import UploadFile

from services.contracts.areas import AREA_CODE_HELP, AREA_CODE_PATTERN
from services.kit.auth import Principal, require
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.errors import Invalid
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.statistics.figures.routes import current_semester
from services.statistics.verification import jobs, service
from services.statistics.verification.columns import FIELDS, JSON_LAYOUT
from services.statistics.verification.docs import DESCRIPTION, ROSTER_BODY
from services.statistics.verification.models import Finding, Verification
from services.statistics.verification.runner import Source, VerificationRunner
from services.statistics.verification.schemas import (
    SEMESTER,
    FindingKind,
    FindingPublic,
    HouseholdEducation,
    JobStatus,
    ResolveIn,
    RosterIn,
    RosterRowIn,
    VerificationPublic,
)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run verification jobs for the app's lifetime (after its engine exists)."""
    runner = VerificationRunner(app.state.sessionmaker, app.state.settings)
    app.state.verifications = runner
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()


router = APIRouter(prefix="/api/v1/verifications", tags=["verification"], lifespan=lifespan)
Reader = Annotated[Principal, Depends(require(*service.READERS))]
Submitter = Annotated[Principal, Depends(require(*service.SUBMITTERS))]
Resolver = Annotated[Principal, Depends(require(*service.RESOLVERS))]
Semester = Annotated[str | None, Query(pattern=SEMESTER, examples=["2026-autumn"])]


async def job_in_scope(job_id: uuid.UUID, session: SessionDep, principal: Reader) -> Verification:
    return await service.get_or_404(session, principal, job_id)


JobInScope = Annotated[Verification, Depends(job_in_scope)]
FindingId = Annotated[int, Path(ge=1, le=2**63 - 1, description="The finding's id")]


async def _public(session, principal: Principal, job: Verification) -> dict:
    body = VerificationPublic.model_validate(job).model_dump(mode="json")
    body["summary"] = await service.summary_for(session, principal, job)
    return body


def _finding(job: Verification, f: Finding) -> dict:
    resolution = (
        {"note": f.resolution_note, "actor": f.resolved_by, "at": f.resolved_at} if f.resolved_at else None
    )
    return FindingPublic(
        id=f.id,
        verification_id=f.verification_id,
        roster_version=job.roster_version,
        kind=f.kind,
        student_id=f.student_id,
        row=f.row_number,
        household_platform_id=f.household_platform_id,
        area_code=f.area_code,
        details=f.details,
        resolution=resolution,
        version=f.version,
        created_at=f.created_at,
        updated_at=f.updated_at,
    ).model_dump(mode="json")


async def _roster(request: Request, runner: VerificationRunner, job_id: uuid.UUID) -> tuple[dict, Source]:
    """Read the request: JSON rows, or a multipart file with its form fields."""
    if request.headers.get("content-type", "").startswith("application/json"):
        try:
            data = await asyncio.to_thread(RosterIn.model_validate_json, await request.body())
        except ValidationError as exc:
            raise RequestValidationError(exc.errors()) from None
        fields = {"semester": data.semester, "area_code": data.area_code, "source": "json", "filename": None}
        return fields, Source(layout=JSON_LAYOUT, rows=[_cells(r) for r in data.rows])
    form = await request.form()
    semester, area = form.get("semester"), form.get("area_code") or None
    if not isinstance(semester, str) or not _matches(SEMESTER, semester):
        raise Invalid(["semester"], "semester is required, as YYYY-spring or YYYY-autumn")
    if area is not None and (not isinstance(area, str) or not _matches(AREA_CODE_PATTERN, area)):
        raise Invalid(["area_code"], f"area_code must be {AREA_CODE_HELP}")
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise Invalid(["file"], "Send the roster as `file` (CSV or XLSX), or JSON rows")
    filename = upload.filename or "roster.csv"
    path = runner.path_for(job_id, filename)
    kind, layout = await service.accept_file(upload.file, size=upload.size, filename=filename, path=path)
    return {"semester": semester, "area_code": area, "source": kind, "filename": filename}, Source(
        layout=layout, path=path, filename=filename
    )


def _cells(row: RosterRowIn) -> list[str]:
    """A JSON row as the cells of FIELDS, as a file would give them."""
    values = {**row.model_dump(), "statuses": ";".join(row.statuses)}
    return [values[f] or "" for f in FIELDS]


def _matches(pattern: str, value: str) -> bool:
    return re.fullmatch(pattern, value) is not None


@router.post(
    "",
    status_code=202,
    response_model=VerificationPublic,
    summary="Submit a platform roster for verification",
    description=DESCRIPTION,
    openapi_extra=ROSTER_BODY,
    responses=problems(403, 413, 503),
)
async def submit_roster(
    fresh: FreshProjection, request: Request, session: SessionDep, principal: Submitter
) -> Any:
    # The roster is compared with the projections after every write acknowledged before it (kit.barrier).
    runner: VerificationRunner = request.app.state.verifications
    job_id = uuid.uuid4()
    fields, source = await _roster(request, runner, job_id)
    try:
        job = await jobs.create(
            session,
            principal,
            job_id=job_id,
            area_code=service.requested_area(principal, fields["area_code"]),
            semester=fields["semester"],
            source=fields["source"],
            filename=fields["filename"],
        )
        await session.commit()  # the job must be visible before its task runs
    except BaseException:
        if source.path is not None:
            source.path.unlink(missing_ok=True)
        raise
    runner.submit(job_id, source)
    body = VerificationPublic.model_validate(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/v1/verifications/{job_id}"})


@router.get(
    "", response_model=Page[VerificationPublic], summary="List verifications", responses=problems(403)
)
async def list_verifications(
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    semester: Semester = None,
    status: JobStatus | None = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
) -> Any:
    """Rosters submitted in (or covering) the caller's area, oldest first; `area_code` = exactly that area."""
    stmt = select(Verification).where(service.visible_to(principal))
    if semester:
        stmt = stmt.where(Verification.semester == semester)
    if status:
        stmt = stmt.where(Verification.status == status)
    if area_code:
        stmt = stmt.where(Verification.area_code == area_code)
    return await paginate(
        session,
        stmt,
        order_by=[Verification.created_at, Verification.id],
        limit=limit,
        cursor=cursor,
        key=lambda j: [j.created_at, j.id],
        to_item=lambda j: VerificationPublic.model_validate(j).model_dump(mode="json"),
    )


@router.get(
    "/households/{platform_id}",
    response_model=HouseholdEducation,
    summary="A household's children in school and the aid paid them",
    responses=problems(403, 404),
)
async def household_education(
    session: SessionDep,
    principal: Reader,
    platform_id: Annotated[str, Path(min_length=1, max_length=40)],
    semester: Semester = None,
) -> Any:
    """For the platform: each registry child of a household of the caller's area, its stage, status and
    school, and what it was paid this semester (default: the current one). ID numbers masked."""
    return await service.household_education(
        session, principal, platform_id=platform_id, semester=semester or current_semester()
    )


@router.get(
    "/{job_id}",
    response_model=VerificationPublic,
    summary="Read a verification",
    responses=problems(403, 404),
)
async def read_verification(job: JobInScope, session: SessionDep, principal: Reader) -> Any:
    """Status, counts, row errors and the summary of findings by kind."""
    return await _public(session, principal, job)


@router.get(
    "/{job_id}/findings",
    response_model=Page[FindingPublic],
    summary="List a verification's findings",
    responses=problems(403, 404),
)
async def list_findings(
    job: JobInScope,
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: FindingKind | None = None,
    resolved: bool | None = None,
    student_id: uuid.UUID | None = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$", description="Prefix")] = None,
) -> Any:
    stmt = select(Finding).where(service.findings_where(principal, job))
    if kind:
        stmt = stmt.where(Finding.kind == kind)
    if resolved is not None:
        stmt = stmt.where(Finding.resolved_at.is_not(None) if resolved else Finding.resolved_at.is_(None))
    if student_id:
        stmt = stmt.where(Finding.student_id == student_id)
    if area_code:
        stmt = stmt.where(within(Finding.area_code, area_code))
    return await paginate(
        session,
        stmt,
        order_by=[Finding.id],
        limit=limit,
        cursor=cursor,
        key=lambda f: [f.id],
        to_item=lambda f: _finding(job, f),
    )


@router.post(
    "/{job_id}/findings/{finding_id}/resolve",
    response_model=FindingPublic,
    summary="Resolve a finding",
    responses=problems(403, 404, 409),
)
async def resolve_finding(
    job: JobInScope, finding_id: FindingId, data: ResolveIn, session: SessionDep, principal: Resolver
) -> Any:
    """Record the note, who and when; 409 when already resolved."""
    finding = await service.finding_or_404(session, principal, job, finding_id)
    return _finding(job, await service.resolve(session, principal, finding=finding, note=data.note))
