import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Body, Query, Request
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError
from sqlalchemy import select

from services.dropout.absences import service
from services.dropout.absences.models import Absence
from services.dropout.absences.schemas import MAX_ITEMS, AbsenceIn, AbsencePostResult, AbsencePublic
from services.dropout.domain import AbsenceReason
from services.kit.auth import CurrentPrincipal
from services.kit.barrier import barrier_of
from services.kit.db import SessionDep
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within

router = APIRouter(prefix="/api/v1/attendance", tags=["attendance"])
EXAMPLES = {
    "one": {
        "value": {
            "student_id": "0b8e3c52-5d7e-4c1e-9a51-3f0f6f1d2a10",
            "date": "2026-10-12",
            "reason": "unexplained",
        }
    },
    "list": {
        "value": [
            {
                "student_id": "0b8e3c52-5d7e-4c1e-9a51-3f0f6f1d2a10",
                "date": "2026-10-12",
                "reason": "unexplained",
            },
            {"student_id": "5f1d9a3e-2b4c-4d8e-8f6a-1c2b3d4e5f60", "date": "2026-10-12", "reason": "sick"},
        ]
    },
}
Items = Annotated[list[AbsenceIn], Field(min_length=1, max_length=MAX_ITEMS)]
ONE, MANY = TypeAdapter(AbsenceIn), TypeAdapter(Items)
# AbsenceReason is in the components already (the list's filter); the item schema points there.
_ITEM = {
    k: v
    for k, v in AbsenceIn.model_json_schema(ref_template="#/components/schemas/{model}").items()
    if k != "$defs"
}
BODY_SCHEMA = {"anyOf": [_ITEM, {"type": "array", "items": _ITEM, "minItems": 1, "maxItems": MAX_ITEMS}]}


@router.post(
    "/absences",
    response_model=AbsencePostResult,
    summary="Post absences (one or a list)",
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": BODY_SCHEMA}}}
    },
    responses=problems(403, 404),
)
async def post_absences(
    request: Request,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[Any, Body(openapi_examples=EXAMPLES)],
) -> dict:
    """Record the day's absences (school for its own students; county, admin), up to 2000 a request.
    Idempotent per student and date: the same absence again is `unchanged`, a changed reason `updated`.
    Each item gets its result; a list keeps the valid items and reports the others as `error`
    (unknown student, not enrolled, future date, not a school day, repeated); a single object that
    fails gets 404 or 422. One unexplained day gives the school a task to reach the family;
    NOL_DROPOUT_CASE_AFTER_DAYS (3) consecutive unexplained school days open a case. A student
    registered a moment before is known here: when a student named is unknown or not enrolled, the
    service first applies every registry write acknowledged so far (503 with Retry-After if that
    takes longer than NOL_BARRIER_TIMEOUT_SECONDS)."""
    single = not isinstance(data, list)
    try:
        items = [ONE.validate_python(data)] if single else MANY.validate_python(data)
    except ValidationError as exc:
        # Validated here, not by FastAPI, so the error names the field, not the union branch.
        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from exc
    return await service.post_absences(
        session,
        principal,
        items=items,
        single=single,
        catch_up=lambda: barrier_of(request).wait(only="registry"),
    )


@router.get("/absences", response_model=Page[AbsencePublic], summary="List absences")
async def list_absences(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    student_id: uuid.UUID | None = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    reason: AbsenceReason | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    updated_since: UpdatedSince = None,
):
    """Absences in the caller's scope (school: its own; village: its village's), oldest change first."""
    stmt = select(Absence).where(service.absence_scope(principal))
    if student_id:
        stmt = stmt.where(Absence.student_id == student_id)
    if school_code:
        stmt = stmt.where(Absence.school_code == school_code)
    if area_code:
        stmt = stmt.where(within(Absence.area_code, area_code))
    if reason:
        stmt = stmt.where(Absence.reason == reason.value)
    if date_from:
        stmt = stmt.where(Absence.date >= date_from)
    if date_to:
        stmt = stmt.where(Absence.date <= date_to)
    if updated_since:
        stmt = stmt.where(Absence.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Absence.updated_at, Absence.id],
        limit=limit,
        cursor=cursor,
        key=lambda a: [a.updated_at, a.id],
        to_item=AbsencePublic.model_validate,
    )
