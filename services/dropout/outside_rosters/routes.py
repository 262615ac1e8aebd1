"""Outside rosters (联控联保): submit a public-security or 残联 roster, follow it, read its findings."""

import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, File, Form, Query, Request, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.contracts.calendar import EventDate, today
from services.contracts.vocabulary import OutsideFindingKind, OutsideRosterSource
from services.dropout.outside_rosters import service
from services.dropout.outside_rosters.jobs import RosterJobs
from services.dropout.outside_rosters.models import OutsideFinding, OutsideRoster
from services.dropout.outside_rosters.schemas import OutsideFindingPublic, OutsideRosterPublic
from services.kit.auth import Principal, require
from services.kit.barrier import FreshProjection
from services.kit.db import SessionDep
from services.kit.errors import Invalid
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.kit.rls import within

DESCRIPTION = """\
Compare a roster kept outside education — the public-security household roster of school-age
children (`source` `public_security`, 公安户籍) or the disabled persons' federation's roster
(`disabled_federation`, 残联) — with our rolls, for an `area_code` (the caller's own by default)
and the date it describes (`as_of`). Multipart `file` (CSV UTF-8/GB18030 or XLSX, up to 50 MB and
200,000 rows). Columns, by name or Chinese label: name (姓名), id_number (身份证号 / 公民身份号码),
gender (性别, optional), village_code (村代码, optional: the household's village, inside the
area), disability_category and disability_grade (残疾类别, 残疾等级, optional). ID numbers are
kept only as the deployment's keyed hash and masked; rows with errors are listed and left out.

Only children of compulsory age count (6-15 on 1 September of the school year `as_of` falls in).
Findings: `no_roll` — a child enrolled nowhere we know (no student with that ID number, or one
dropped out, transferred out or never registered): each opens a case (`source` `outside_roster`)
seen by the village, township and county, unless one is active; `not_on_roster` — a student of
the area (by household) on a school roll whom the roster lacks (残联: disabled students only);
`disabled_unplaced` — a 残联 child with no placement for the year of `as_of`. Each roster is the
next version of its area and source; a newer one, once done, supersedes the earlier. The job runs
in the background: poll `GET /api/v1/dropout/rosters/{id}`."""


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Run roster jobs for the app's lifetime (after its engine exists)."""
    jobs = RosterJobs(app.state.sessionmaker, app.state.settings)
    app.state.outside_rosters = jobs
    await jobs.start()
    try:
        yield
    finally:
        await jobs.stop()


router = APIRouter(prefix="/api/v1/dropout/rosters", tags=["outside rosters"], lifespan=lifespan)
Reader = Annotated[Principal, Depends(require(*service.READERS))]
Submitter = Annotated[Principal, Depends(require(*service.SUBMITTERS))]
AreaCode = Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$", description="Exactly this area")]


async def roster_in_scope(roster_id: uuid.UUID, session: SessionDep, principal: Reader) -> OutsideRoster:
    return await service.roster_or_404(session, principal, roster_id)


RosterInScope = Annotated[OutsideRoster, Depends(roster_in_scope)]


def _public(roster: OutsideRoster, summary: dict | None = None) -> dict:
    body = OutsideRosterPublic.model_validate(roster).model_dump(mode="json")
    return body if summary is None else body | {"summary": summary}


def _finding(roster: OutsideRoster, f: OutsideFinding) -> dict:
    body = f.model_dump() | {"row": f.row_number, "roster_version": roster.roster_version}
    return OutsideFindingPublic.model_validate(body).model_dump(mode="json")


@router.post(
    "",
    status_code=202,
    response_model=OutsideRosterPublic,
    summary="Submit an outside roster (公安/残联) for comparison",
    description=DESCRIPTION,
    responses=problems(403, 413, 503),
)
async def submit_roster(
    fresh: FreshProjection,
    request: Request,
    session: SessionDep,
    principal: Submitter,
    file: Annotated[UploadFile, File(description="CSV or XLSX; the first row is the header")],
    source: Annotated[OutsideRosterSource, Form(description="Who keeps the roster")],
    as_of: Annotated[EventDate, Form(description="The date the roster describes", examples=["2026-09-01"])],
    area_code: Annotated[str | None, Form(pattern=r"^[0-9]{6,12}$", description="Default: yours")] = None,
) -> Any:
    # Compared with the student projection after every registry write acknowledged before it (kit.barrier).
    if as_of > today():
        raise Invalid(["as_of"], "as_of is in the future")
    area = service.requested_area(principal, area_code)
    jobs: RosterJobs = request.app.state.outside_rosters
    roster_id = uuid.uuid4()
    path = jobs.path_for(roster_id, file.filename or "roster.csv")
    filename = await service.accept_file(file, path=path, settings=request.app.state.settings)
    try:
        roster = await service.create(
            session, principal, roster_id=roster_id, area_code=area, source=source.value, as_of=as_of,
            filename=filename,
        )  # fmt: skip
        await session.commit()  # the job must be visible before its task runs
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    jobs.submit(roster_id, path, filename)
    headers = {"Location": f"/api/v1/dropout/rosters/{roster_id}"}
    return JSONResponse(_public(roster), status_code=202, headers=headers)


@router.get(
    "", response_model=Page[OutsideRosterPublic], summary="List outside rosters", responses=problems(403)
)
async def list_rosters(
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    source: OutsideRosterSource | None = None,
    status: Annotated[str | None, Query(pattern="^(queued|running|done|failed)$")] = None,
    area_code: AreaCode = None,
    superseded: bool | None = None,
) -> Any:
    """Rosters of the caller's area or of an area containing it, oldest first."""
    stmt = select(OutsideRoster).where(service.visible_to(principal))
    filters = {OutsideRoster.source: source, OutsideRoster.status: status, OutsideRoster.area_code: area_code}
    stmt = stmt.where(*(col == value for col, value in filters.items() if value is not None))
    if superseded is not None:
        done = OutsideRoster.superseded_at
        stmt = stmt.where(done.is_not(None) if superseded else done.is_(None))
    return await paginate(
        session, stmt, order_by=[OutsideRoster.created_at, OutsideRoster.id], limit=limit, cursor=cursor,
        key=lambda r: [r.created_at, r.id], to_item=_public,
    )  # fmt: skip


@router.get(
    "/{roster_id}",
    response_model=OutsideRosterPublic,
    summary="Read an outside roster",
    responses=problems(403, 404),
)
async def read_roster(roster: RosterInScope, session: SessionDep, principal: Reader) -> Any:
    """Status, counts, row errors and the findings by kind (for a township: its own)."""
    return _public(roster, await service.summary_for(session, principal, roster))


@router.get(
    "/{roster_id}/findings",
    response_model=Page[OutsideFindingPublic],
    summary="List an outside roster's findings",
    responses=problems(403, 404),
)
async def list_findings(
    roster: RosterInScope,
    session: SessionDep,
    principal: Reader,
    limit: Limit = 50,
    cursor: Cursor = None,
    kind: OutsideFindingKind | None = None,
    student_id: uuid.UUID | None = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$", description="Prefix")] = None,
) -> Any:
    """The findings inside the caller's area, in row order."""
    stmt = select(OutsideFinding).where(service.findings_where(principal, roster))
    if kind:
        stmt = stmt.where(OutsideFinding.kind == kind.value)
    if student_id:
        stmt = stmt.where(OutsideFinding.student_id == student_id)
    if area_code:
        stmt = stmt.where(within(OutsideFinding.area_code, area_code))
    return await paginate(
        session, stmt, order_by=[OutsideFinding.id], limit=limit, cursor=cursor, key=lambda f: [f.id],
        to_item=lambda f: _finding(roster, f),
    )  # fmt: skip
