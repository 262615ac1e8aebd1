import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body, Depends, Header, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.kit.schemas import InputModel
from services.subsidy.domain import SEMESTER_PATTERN, current_semester
from services.subsidy.notices import bulk, html, service
from services.subsidy.projection.models import StudentFact

router = APIRouter(prefix="/api/v1/subsidy/notices", tags=["subsidy notices"])
SemesterQuery = Annotated[
    str | None, Query(pattern=SEMESTER_PATTERN, description="Default: the current semester")
]


class NoticeItem(BaseModel):
    line_id: uuid.UUID
    batch_id: uuid.UUID | None
    policy_code: str
    policy_name: str
    policy_kind: str
    policy_kind_label: str
    amount_fen: int
    paid_on: str | None
    back_pay: bool
    school_code: str
    school_name: str | None


class Acknowledgement(BaseModel):
    acknowledged_at: str
    acknowledged_by: str
    role: str
    note: str | None


class Notice(BaseModel):
    student_id: uuid.UUID
    name: str
    school_code: str | None
    school_name: str | None
    grade: int | None
    semester: str
    semester_label: str
    items: list[NoticeItem]
    total_fen: int
    acknowledgement: Acknowledgement | None


class AcknowledgeIn(InputModel):
    semester: str | None = Field(default=None, pattern=SEMESTER_PATTERN, description="Or ?semester=")
    note: str | None = Field(default=None, max_length=500, description="e.g. 家长已签字，回执存档")


async def student_in_scope(
    student_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> StudentFact:
    return await service.student_or_404(session, principal, student_id)


StudentInScope = Annotated[StudentFact, Depends(student_in_scope)]


class NoticeBook(BaseModel):
    semester: str
    count: int = Field(description="How many children (pages)")
    items: list[Notice]


@router.get(
    "",
    response_model=NoticeBook,
    summary="Notices in bulk (告知书, one page per child)",
    description="Every notice of a batch (`batch_id`), a school (`school_code`) or a village "
    "(`village_code`) for a semester (a batch's own by default): the children with a paid line then, "
    "inside the caller's scope. `format=html` gives one printable document with a page break after each "
    "child; acknowledgements stay per child (`POST /notices/{student_id}/acknowledge`).",
    responses={200: {"content": {"text/html": {}}}, **problems(404, 422)},
)
async def print_notices(
    session: SessionDep,
    principal: CurrentPrincipal,
    semester: SemesterQuery = None,
    batch_id: uuid.UUID | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    village_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    format: Annotated[
        Literal["json", "html"] | None, Query(description="html: one printable document")
    ] = None,
):
    """All notices of a batch, school or village as one document (JSON, or HTML to print)."""
    semester, notices = await bulk.notices_for(
        session, principal, semester=semester, batch_id=batch_id, school_code=school_code,
        village_code=village_code,
    )  # fmt: skip
    if format == "html":
        return HTMLResponse(html.render_many(notices, f"学生资助告知书（{len(notices)}份）"))
    body = {"semester": semester, "count": len(notices), "items": notices}
    return JSONResponse(jsonable_encoder(NoticeBook.model_validate(jsonable_encoder(body))))


@router.get(
    "/{student_id}",
    response_model=Notice,
    summary="The notice to parents (告知书)",
    responses={200: {"content": {"text/html": {}}}, **problems(404)},
)
async def read_notice(
    student: StudentInScope,
    session: SessionDep,
    semester: SemesterQuery = None,
    format: Annotated[Literal["json", "html"] | None, Query(description="html: a printable page")] = None,
    accept: Annotated[str | None, Header()] = None,
):
    """What was paid to the student in the semester, by which policy, how much; `?format=html` to print."""
    notice = await service.build_notice(session, student, semester or current_semester())
    if format == "html" or (format is None and accept and "text/html" in accept):
        return HTMLResponse(html.render(notice))
    return JSONResponse(jsonable_encoder(Notice.model_validate(jsonable_encoder(notice))))


@router.post(
    "/{student_id}/acknowledge",
    response_model=Acknowledgement,
    status_code=201,
    summary="Record the parents' acknowledgement",
    responses={
        200: {"model": Acknowledgement, "description": "Already acknowledged: the first record is returned"},
        **problems(403, 404, 409),
    },
)
async def acknowledge(
    student: StudentInScope,
    session: SessionDep,
    principal: CurrentPrincipal,
    semester: SemesterQuery = None,
    data: Annotated[AcknowledgeIn | None, Body()] = None,
):
    """Record, by a school or village user, that the parents received the notice (once per semester)."""
    data = data or AcknowledgeIn()
    semester = data.semester or semester or current_semester()
    ack, created = await service.acknowledge(
        session, principal, student=student, semester=semester, note=data.note
    )
    body = jsonable_encoder(service.ack_out(ack))
    return JSONResponse(body, status_code=201 if created else 200)
