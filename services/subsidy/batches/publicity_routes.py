import uuid
from datetime import date, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BaseModel, Field
from sqlalchemy import select

from services.contracts import calendar
from services.kit import listing
from services.kit.auth import CurrentPrincipal, Role
from services.kit.db import SessionDep
from services.kit.errors import NotFound
from services.kit.pagination import Cursor, Limit, Page, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.schemas import InputModel, OutputModel
from services.subsidy.batches import printing, publicity
from services.subsidy.batches.models import Batch, Disbursement, Objection

router = APIRouter(prefix="/api/v1/subsidy", tags=["subsidy public notice"])


class NoticeLine(BaseModel):
    line_id: uuid.UUID
    student_id: uuid.UUID
    name: str = Field(description="Masked, e.g. 王*明")
    id_number_masked: str = Field(description="First 6 and last 4 characters only")
    stage: str | None
    grade: int | None
    village_code: str | None
    amount_fen: int


class PublicNotice(BaseModel):
    batch_id: uuid.UUID
    school_code: str
    school_name: str | None
    semester: str
    policy_code: str
    policy_name: str
    status: str
    publicity_start: date | None
    publicity_end: date | None = Field(description="The notice runs until the day before")
    active: bool
    total_fen: int
    lines: list[NoticeLine]


class ObjectionIn(InputModel):
    student_id: uuid.UUID
    reason: str = Field(min_length=1, max_length=500)


class ResolveIn(InputModel):
    outcome: Literal["upheld", "dismissed"] = Field(
        description="upheld removes the line, with the note as reason"
    )
    note: str = Field(min_length=1, max_length=500)


class ObjectionPublic(OutputModel):
    id: uuid.UUID
    batch_id: uuid.UUID
    line_id: uuid.UUID
    student_id: uuid.UUID
    reason: str
    status: Literal["open", "upheld", "dismissed"]
    raised_by: str
    raised_role: str
    raised_at: datetime
    resolution: str | None
    resolved_by: str | None
    resolved_at: datetime | None
    version: int


async def published_batch(batch_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> Batch:
    return await publicity.published_batch_or_404(session, principal, batch_id)


PublishedBatch = Annotated[Batch, Depends(published_batch)]


@router.get("/publicity", response_model=Page[PublicNotice], summary="Public notices (公示) for the caller")
async def list_notices(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    active: Annotated[bool, Query(description="Only notices still running")] = True,
):
    """The batch lists published to the caller: its school's, its area's, or (village) its children's."""
    stmt = select(Batch).where(Batch.status.in_(publicity.PUBLISHED), publicity.published_to(principal))
    if active:
        stmt = stmt.where(Batch.status == "submitted", Batch.publicity_end > calendar.today())
    page = await paginate(
        session, stmt, order_by=[Batch.created_at, Batch.id], limit=limit, cursor=cursor,
        key=lambda b: [b.created_at, b.id],
    )  # fmt: skip
    page["items"] = [await publicity.notice(session, principal, b) for b in page["items"]]
    return page


@router.get(
    "/batches/{batch_id}/publicity",
    response_model=PublicNotice,
    summary="A batch's public notice",
    responses={200: {"content": listing.SPREADSHEETS}, **problems(404)},
)
async def read_notice(
    batch: PublishedBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    format: printing.PrintFormat = None,
):
    """The batch's list as published: names and ID numbers masked.

    `format=csv|xlsx` gives the 公示名单 to post: masked name, school, grade and amount in 元 with a total;
    no ID number in any form and no aid category.
    """
    notice = await publicity.notice(session, principal, batch)
    if format in ("csv", "xlsx"):
        content, headers = printing.publicity_file(notice, format)
        return Response(content, headers=headers, media_type=headers["content-type"])
    return notice


@router.post(
    "/batches/{batch_id}/objections",
    status_code=201,
    response_model=ObjectionPublic,
    summary="Record an objection",
    responses=problems(403, 404, 409),
)
async def raise_objection(
    batch: PublishedBatch, data: ObjectionIn, session: SessionDep, principal: CurrentPrincipal
) -> Objection:
    """Record an objection to a line of a batch under public notice; the county waits until it is resolved."""
    return await publicity.raise_objection(
        session, principal, batch=batch, student_id=data.student_id, reason=data.reason
    )


@router.get(
    "/batches/{batch_id}/objections",
    response_model=Page[ObjectionPublic],
    summary="A batch's objections",
    responses=problems(404),
)
async def list_objections(
    batch: PublishedBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    status: Literal["open", "upheld", "dismissed"] | None = None,
):
    stmt = select(Objection).where(Objection.batch_id == batch.id)
    if principal.role is Role.village:
        mine = select(Disbursement.id).where(
            Disbursement.id == Objection.line_id,
            within(Disbursement.village_code, principal.area_code),
        )
        stmt = stmt.where(mine.exists())
    if status:
        stmt = stmt.where(Objection.status == status)
    return await paginate(
        session, stmt, order_by=[Objection.raised_at, Objection.id], limit=limit, cursor=cursor,
        key=lambda o: [o.raised_at, o.id], to_item=ObjectionPublic.model_validate,
    )  # fmt: skip


@router.post(
    "/batches/{batch_id}/objections/{objection_id}/resolve",
    response_model=ObjectionPublic,
    summary="Resolve an objection",
    responses=problems(403, 404, 409),
)
async def resolve_objection(
    batch: PublishedBatch,
    objection_id: uuid.UUID,
    data: ResolveIn,
    session: SessionDep,
    principal: CurrentPrincipal,
) -> Objection:
    """Uphold (the line is removed, with the reason) or dismiss an objection (township, county)."""
    stmt = (
        select(Objection)
        .where(Objection.id == objection_id, Objection.batch_id == batch.id)
        .with_for_update()
    )
    objection = (await session.execute(stmt)).scalar_one_or_none()
    if objection is None:
        raise NotFound("No such objection")
    return await publicity.resolve(
        session, principal, batch=batch, objection=objection, outcome=data.outcome, note=data.note
    )
