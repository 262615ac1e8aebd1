import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse, Response
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.registry.imports import service
from services.registry.imports.columns import STATUS_FORMAT
from services.registry.imports.models import ImportJob
from services.registry.imports.runner import ImportRunner
from services.registry.imports.schemas import ImportJobPublic, JobStatus
from services.registry.imports.templates import template

KindName = Literal["areas", "schools", "households", "students"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
LABEL = {"areas": "行政区划", "schools": "学校", "households": "家庭户", "students": "学生"}


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run import jobs for the app's lifetime (after its engine exists; stopped before it goes)."""
    runner = ImportRunner(app.state.sessionmaker, app.state.settings.data_dir / "imports")
    app.state.imports = runner
    await runner.start()
    try:
        yield
    finally:
        await runner.stop()


router = APIRouter(prefix="/api/v1/imports", tags=["imports"], lifespan=lifespan)

DESCRIPTION = f"""\
Upload a CSV (UTF-8 or GB18030) or XLSX file of `kind` areas, schools,
households or students; the rows are imported in the background and the job
reports `processed`/`total`, `created`, `updated` and row errors
(`row` as the spreadsheet numbers it, the header being row 1; `field` = the
column as the file names it). Valid rows are kept even when others fail;
importing the same file again updates, never duplicates (students by ID
number, households by `household_platform_id`, schools and areas by `code`).
The caller's scope applies to every row as for the single-record endpoints.

Columns are the JSON field names or the Chinese labels of the template
(`GET /api/v1/imports/templates/{{kind}}`); values may be codes or labels
(小学, 初中, 在读, 是/否, 男/女, 留守儿童 ...). Students: name, id_number,
gender, birth_date, ethnicity, student_number, household_platform_id, groups
(separated by , 、 ; |), disability_category, disability_grade, school_code,
stage, grade, class_name, boarding, status. Households:
household_platform_id, head_name, area_code (the village), statuses as
`{STATUS_FORMAT}`. Schools: code, name, area_code, ownership, stages. Areas:
code, name. Up to {service.MAX_BYTES // (1024 * 1024)} MB and {service.MAX_ROWS}
rows a file (413 beyond).
"""


async def job_in_scope(job_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> ImportJob:
    return await service.get_job_or_404(session, principal, job_id)


JobInScope = Annotated[ImportJob, Depends(job_in_scope)]


@router.post(
    "",
    status_code=202,
    response_model=ImportJobPublic,
    summary="Import a CSV or XLSX file",
    description=DESCRIPTION,
    responses={413: {"description": "File or row count over the limit"}, **problems(403)},
)
async def create_import(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    file: Annotated[UploadFile, File(description="CSV or XLSX; the first row is the header")],
    kind: Annotated[KindName, Form(description="What the rows are")],
):
    """Accept a file and queue its import; poll `GET /api/v1/imports/{id}` for progress."""
    service.check_writer(principal, kind)
    runner: ImportRunner = request.app.state.imports
    job_id = uuid.uuid4()
    filename = file.filename or f"{kind}.csv"
    layout, total = await service.accept_file(
        upload=file.file, size=file.size, filename=filename, kind=kind, path=runner.path_for(job_id, filename)
    )
    job = await service.create_job(
        session, principal, job_id=job_id, kind=kind, filename=filename, total=total
    )
    await session.commit()  # the job must be visible before its task runs
    runner.submit(job_id=job_id, principal=principal, layout=layout, filename=filename)
    body = ImportJobPublic.model_validate(job).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"/api/v1/imports/{job_id}"})


@router.get("", response_model=Page[ImportJobPublic], summary="List imports")
async def list_imports(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: KindName | None = None,
    status: JobStatus | None = None,
    actor: Annotated[str | None, Query(max_length=100)] = None,
):
    """List the imports the caller may see (its own and those of users inside its area), oldest first."""
    stmt = select(ImportJob).where(service.visible_to(principal))
    if kind:
        stmt = stmt.where(ImportJob.kind == kind)
    if status:
        stmt = stmt.where(ImportJob.status == status)
    if actor:
        stmt = stmt.where(ImportJob.actor == actor)
    return await paginate(
        session,
        stmt,
        order_by=[ImportJob.created_at, ImportJob.id],
        limit=limit,
        cursor=cursor,
        key=lambda j: [j.created_at, j.id],
        to_item=ImportJobPublic.model_validate,
    )


@router.get(
    "/templates/{kind}",
    summary="Download the XLSX template of an import kind",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "The template (header row + 填写说明 sheet)"}},
)
async def download_template(kind: KindName, principal: CurrentPrincipal) -> Response:
    """Return the template: Chinese column labels, and a sheet explaining each column and format."""
    content = await asyncio.to_thread(template, kind)
    name = quote(f"{LABEL[kind]}导入模板.xlsx")
    return Response(
        content,
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename={kind}-template.xlsx; filename*=UTF-8''{name}"
        },
    )


@router.get(
    "/{job_id}", response_model=ImportJobPublic, summary="Read an import's progress", responses=problems(404)
)
async def read_import(job: JobInScope) -> ImportJob:
    """Status, counts and the first 1000 row errors of an import."""
    return job
