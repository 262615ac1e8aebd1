import uuid
from typing import Annotated

from fastapi import APIRouter, Body

from services.dropout.responsible import service
from services.dropout.responsible.models import ResponsibleDefault
from services.dropout.responsible.schemas import (
    DefaultPublic,
    DefaultPut,
    LetterCreate,
    ResponsiblePut,
    StudentResponsible,
)
from services.dropout.students.scope import student_or_404
from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.errors import Forbidden
from services.kit.responses import problems

router = APIRouter(prefix="/api/v1/dropout", tags=["responsible persons (双线控辍)"])
PUT_EXAMPLE = {
    "two": {
        "value": {
            "persons": [
                {"role": "head_teacher", "name": "王老师", "phone": "13900000001"},
                {"role": "village_head", "name": "张主任", "phone": "13900000002"},
            ]
        }
    }
}


async def _view(session, student) -> StudentResponsible:
    persons = (await service.resolve(session, [student]))[student.id]
    complete = all(p.name and p.letters for p in persons)
    return StudentResponsible(
        student_id=student.id, student_name=student.name, persons=persons, complete=complete
    )


@router.get(
    "/students/{student_id}/responsible",
    response_model=StudentResponsible,
    summary="A child's responsible persons on both lines",
    responses=problems(404),
)
async def read_responsible(student_id: uuid.UUID, session: SessionDep, principal: CurrentPrincipal):
    """The four responsible persons of a child (双线控辍: head teacher and principal on the education line,
    village head and township head on the government line): the child's own when set, else those of
    its school, village or township (`source` says which), each with its signed letters (责任书)."""
    if principal.is_machine:
        raise Forbidden("Platform clients have no access to responsible persons")
    return await _view(session, await student_or_404(session, principal, student_id))


@router.put(
    "/students/{student_id}/responsible",
    response_model=StudentResponsible,
    summary="Name a child's own responsible persons",
    responses=problems(403, 404),
)
async def put_responsible(
    student_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[ResponsiblePut, Body(openapi_examples=PUT_EXAMPLE)],
):
    """Set the child's own person for each role given (the others keep theirs or their unit's). County,
    township and admin users name anyone; a school the education line of its own students."""
    service.check_writer(principal, data.persons[0].role)
    student = await student_or_404(session, principal, student_id)
    await service.set_persons(session, principal, student, data=data)
    return await _view(session, student)


@router.post(
    "/students/{student_id}/responsibility-letters",
    status_code=201,
    response_model=StudentResponsible,
    summary="Record a signed responsibility letter (责任书)",
    responses=problems(403, 404),
)
async def create_letter(
    student_id: uuid.UUID,
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[
        LetterCreate,
        Body(
            openapi_examples={
                "letter": {
                    "value": {
                        "role": "principal",
                        "signer_name": "刘校长",
                        "signed_on": "2026-09-01",
                        "evidence_id": "ev_5d2c",
                    }
                }
            }
        ),
    ],
):
    """Who signed for which role, when, and the scanned letter's evidence id."""
    service.check_writer(principal, data.role)
    student = await student_or_404(session, principal, student_id)
    await service.add_letter(session, principal, student, data=data)
    return await _view(session, student)


@router.put(
    "/responsible-defaults",
    response_model=DefaultPublic,
    summary="Name a school's, village's or township's responsible person",
    responses=problems(403),
)
async def put_default(
    session: SessionDep,
    principal: CurrentPrincipal,
    data: Annotated[
        DefaultPut,
        Body(
            openapi_examples={
                "principal": {"value": {"unit_code": "2161000001", "role": "principal", "name": "刘校长"}}
            }
        ),
    ],
) -> ResponsibleDefault:
    """The person every child of the unit has for the role unless the child has its own: a school's
    principal (or head teacher), a village's head, a township's head. The school must have a student in
    the caller's scope; a village or township must lie inside the caller's area."""
    return await service.set_default(session, principal, data=data)
