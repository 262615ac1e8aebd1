import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from sqlalchemy import select

from services.kit.auth import CurrentPrincipal, Role
from services.kit.db import SessionDep
from services.kit.errors import Forbidden
from services.kit.pagination import Cursor, Limit, Page, UpdatedSince, paginate
from services.kit.responses import problems
from services.kit.rls import within
from services.kit.versioning import IfMatch
from services.registry.domain import Category, EnrollmentStatus, Stage
from services.registry.students import enrollment, service
from services.registry.students.models import EnrollmentChange, Student
from services.registry.students.schemas import (
    EnrollmentChangeCreate,
    EnrollmentChangePublic,
    StudentCreate,
    StudentPublic,
    StudentUpdate,
)
from services.registry.transfers import service as transfers
from services.registry.transfers.models import TransferRequest
from services.registry.transfers.schemas import TransferRequested

router = APIRouter(prefix="/api/v1/students", tags=["students"])
REVEALERS = (Role.county, Role.school)


async def student_in_scope(
    student_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal
) -> Student:
    return await service.get_student_or_404(session, principal, student_id)


StudentInScope = Annotated[Student, Depends(student_in_scope)]


async def student_to_read(student_id: uuid.UUID, request: Request, principal: CurrentPrincipal) -> Any:
    return await service.read_student_or_404(request, principal, student_id)


StudentToRead = Annotated[Any, Depends(student_to_read)]  # its columns: read only, no session

CREATE_EXAMPLE = {
    "name": "王小明",
    "id_number": "610928201503150012",
    "ethnicity": "汉族",
    "groups": ["left_behind"],
    "enrollment": {
        "school_code": "2161000123",
        "stage": "primary",
        "grade": 3,
        "class_name": "三年级(2)班",
        "boarding": True,
        "status": "enrolled",
    },
}


@router.post(
    "",
    status_code=201,
    response_model=StudentPublic,
    summary="Register a student",
    openapi_extra={"requestBody": {"content": {"application/json": {"example": CREATE_EXAMPLE}}}},
    responses=problems(403, 409),
)
async def create_student(
    data: StudentCreate, session: SessionDep, principal: CurrentPrincipal
) -> StudentPublic:
    """Register a student; the ID number is validated, deduplicated and stored encrypted."""
    return service.to_public(await service.enroll(session, principal, data=data))


@router.get("", response_model=Page[StudentPublic], summary="List students")
async def list_students(
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
    area_code: Annotated[str | None, Query(pattern=r"^[0-9]{2,12}$")] = None,
    school_code: Annotated[str | None, Query(pattern=r"^[0-9]{10}$")] = None,
    stage: Stage | None = None,
    category: Category | None = None,
    status: EnrollmentStatus | None = None,
    q: Annotated[str | None, Query(max_length=50, description="Part of the name")] = None,
    id_number: Annotated[
        str | None,
        Query(
            pattern=r"^[0-9]{17}[0-9Xx]$",
            description="The whole ID number: matched through its keyed hash (never stored or logged plain)",
        ),
    ] = None,
    updated_since: UpdatedSince = None,
):
    """List students inside the caller's scope, oldest change first (for sync)."""
    stmt = select(Student).where(service.visible_to(principal))
    if area_code:
        stmt = stmt.where(within(Student.area_code, area_code))
    if school_code:
        stmt = stmt.where(Student.school_code == school_code)
    if stage:
        stmt = stmt.where(Student.stage == stage.value)
    if category:
        stmt = stmt.where(Student.categories.any(category.value))
    if status:
        stmt = stmt.where(Student.status == status.value)
    if q:
        stmt = stmt.where(Student.name.contains(q, autoescape=True))
    if id_number:
        stmt = stmt.where(Student.id_number_hash == service.id_number_hash(id_number))
    if updated_since:
        stmt = stmt.where(Student.updated_at >= updated_since)
    return await paginate(
        session,
        stmt,
        order_by=[Student.updated_at, Student.id],
        limit=limit,
        cursor=cursor,
        key=lambda s: [s.updated_at, s.id],
        to_item=service.to_public,
    )


@router.get(
    "/{student_id}", response_model=StudentPublic, summary="Read a student", responses=problems(403, 404)
)
async def read_student(
    student: StudentToRead,
    principal: CurrentPrincipal,
    reveal: Annotated[
        Literal["id_number"] | None,
        Query(description="`id_number` shows the full ID number (county and school users; audited)"),
    ] = None,
) -> StudentPublic:
    if reveal and principal.role not in REVEALERS:
        raise Forbidden("Only county and school users may reveal ID numbers")
    return service.to_public(student, reveal=bool(reveal))


@router.patch(
    "/{student_id}",
    response_model=StudentPublic,
    summary="Update a student",
    responses=problems(403, 404, 409),
)
async def update_student(
    student: StudentInScope,
    data: StudentUpdate,
    session: SessionDep,
    principal: CurrentPrincipal,
    if_match: IfMatch = None,
) -> StudentPublic:
    """Change name, groups, household, grade, class... (`version` or If-Match required)."""
    updated = await service.update_student(session, principal, student=student, data=data, if_match=if_match)
    return service.to_public(updated)


CHANGE_EXAMPLES = {
    "transfer": {
        "value": {
            "kind": "transfer",
            "effective_date": "2026-09-01",
            "reason": "随父母迁居",
            "details": {"school_code": "3161000456", "grade": 1, "class_name": "七年级(3)班"},
        }
    },
    "out_of_county": {
        "value": {
            "kind": "out_of_county",
            "effective_date": "2026-09-01",
            "details": {"province": "浙江省", "county": "义乌市", "school_name": "稠城一小"},
        }
    },
    "suspend": {"value": {"kind": "suspend", "effective_date": "2026-10-08", "reason": "病休"}},
    "graduate": {"value": {"kind": "graduate", "effective_date": "2026-07-01"}},
    "enroll": {
        "summary": "升学: a graduate opens its next stage at a school of any county",
        "value": {
            "kind": "enroll",
            "effective_date": "2026-09-01",
            "details": {"school_code": "3461000789", "stage": "senior", "grade": 10, "boarding": True},
        },
    },
}


@router.post(
    "/{student_id}/enrollment-changes",
    status_code=201,
    response_model=EnrollmentChangePublic,
    summary="Change a student's enrollment",
    responses={
        202: {
            "model": TransferRequested,
            "description": "A move into a school of another county: a "
            "`transfer_request` that county accepts (`POST /api/v1/transfers/{id}/accept`); the student "
            "stays at its school until then",
        },
        **problems(403, 404, 409),
    },
)
async def create_enrollment_change(
    student: StudentInScope,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[EnrollmentChangeCreate, Body(openapi_examples=CHANGE_EXAMPLES)],
):
    """Transfer, suspend, defer, home-teach, out-of-county, graduate, enroll (升学), drop out, return, die."""
    done = await enrollment.change_enrollment(session, principal, student=student, data=data)
    if isinstance(done, TransferRequest):
        (public,) = await transfers.to_public(session, [done])
        body = TransferRequested(transfer_request=public).model_dump(mode="json")
        return JSONResponse(body, status_code=202)
    return done


@router.get(
    "/{student_id}/history",
    response_model=Page[EnrollmentChangePublic],
    summary="A student's enrollment history",
    description="Every enrollment step of the student the caller sees, oldest first: registration, "
    "transfers, graduation, 升学 (`enroll` after `graduate`) into a school of any county. Where the "
    "student is now visible to the caller, the whole path; otherwise the steps that touched the caller's "
    "area, school or village (a county keeps the history of its graduate who went on to another county's "
    "school, while the student itself is then that county's). 404 when the caller never had the student.",
    responses=problems(404),
)
async def enrollment_history(
    student_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    limit: Limit = 50,
    cursor: Cursor = None,
):
    """Every enrollment step of the student the caller had, oldest first, with who and when."""
    return await paginate(
        session,
        await enrollment.history_query(session, principal, student_id),
        order_by=[EnrollmentChange.created_at, EnrollmentChange.id],
        limit=limit,
        cursor=cursor,
        key=lambda c: [c.created_at, c.id],
        to_item=EnrollmentChangePublic.model_validate,
    )
