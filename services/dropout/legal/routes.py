import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Body
from fastapi.responses import HTMLResponse, Response

from services.dropout.cases.service import case_or_404
from services.dropout.legal import notice, service
from services.dropout.legal.models import LegalStep
from services.dropout.legal.schemas import StepCreate, StepPublic
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.errors import Forbidden, NotFound
from services.kit.pagination import Page
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/dropout/cases", tags=["legal steps (依法控辍)"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
EXAMPLES = {
    "notice": {
        "summary": "A notice to the guardian after a failed persuasion",
        "value": {
            "kind": "notice",
            "guardian_name": "张大山",
            "authority": "XX镇人民政府",
            "number": "X政通〔2026〕12号",
        },
    },
    "referral": {"value": {"kind": "township_referral", "note": "逾期未复学，提请镇政府处理"}},
    "concluded": {"value": {"kind": "concluded", "outcome": "complied"}},
}


@router.get(
    "/{case_id}/legal-steps", response_model=Page[StepPublic], summary="A case's legal steps",
    responses=problems(404),
)  # fmt: skip
async def list_steps(case_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal) -> dict:
    """The legal steps on a case, in order (a case has a handful: one page)."""
    if principal.is_machine:
        raise Forbidden("Platform clients have no access to cases")
    _, student = await case_or_404(session, principal, case_id)
    items = [service.public(s, student.id) for s in await service.steps_of(session, case_id)]
    return {"items": items, "next_cursor": None}


@router.post(
    "/{case_id}/legal-steps", status_code=201, response_model=StepPublic, summary="Record a legal step",
    responses=problems(403, 404, 409),
)  # fmt: skip
async def create_step(
    case_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[StepCreate, Body(openapi_examples=EXAMPLES)],
) -> StepPublic:
    """After a failed persuasion, a `notice` to the guardian (限期复学通知书) with a deadline (default
    NOL_DROPOUT_NOTICE_DAYS days); then `township_referral`, `administrative_decision`, `court`, and
    `concluded` with an outcome. A step's deadline is a `legal_deadline` task for the level leading the
    case, due that day (done by the next step or the case's close). 409 for a notice without a failed
    persuasion, a later step without a notice, or a closed case."""
    step, student_id = await service.record_step(session, principal, case_id=case_id, data=data)
    return service.public(step, student_id)


@router.get(
    "/{case_id}/legal-steps/{step_id}/notice",
    summary="Print the notice to the guardian (限期复学通知书)",
    responses={
        200: {"content": {"text/html": {}, XLSX: {}}, "description": "The notice, dated, with its deadline"},
        **problems(404),
    },
    response_class=Response,
)
async def print_notice(
    case_id: uuid.UUID,
    step_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    format: Literal["html", "xlsx"] = "html",
) -> Response:
    """An HTML page the clerk prints (default) or an XLSX sheet: the guardian, the child, the legal
    basis, the deadline, the issuer and the date."""
    if principal.is_machine:
        raise Forbidden("Platform clients have no access to cases")
    case, student = await case_or_404(session, principal, case_id)
    step = await session.get(LegalStep, step_id)
    if step is None or step.case_id != case.id or step.kind != "notice":
        raise NotFound("No such notice")
    if format == "xlsx":
        return Response(
            notice.render_xlsx(case, student, step),
            media_type=XLSX,
            headers={"Content-Disposition": f'attachment; filename="notice-{step.id}.xlsx"'},
        )
    return HTMLResponse(notice.render_html(case, student, step))
