"""`POST /api/v1/students/lookup`: up to 1,000 students in one call, by id or ID number.

ID numbers are matched through the keyed hash and answered masked (a reveal stays one student at a
time, audited); answers come in the order asked, `null` for none inside the caller's scope.
"""

import uuid
from typing import Literal

from fastapi import APIRouter
from pydantic import Field
from sqlalchemy import or_, select

from services.kit.auth import CurrentPrincipal
from services.kit.crypto import mask_id_number
from services.kit.db import SessionDep
from services.kit.responses import problems
from services.kit.schemas import OutputModel
from services.registry.households.lookup import LOOKUP_LIMIT, KeyedLookup, hashes_of
from services.registry.students import service
from services.registry.students.models import Student
from services.registry.students.schemas import StudentPublic

router = APIRouter(prefix="/api/v1/students", tags=["students"])


class StudentLookup(KeyedLookup):
    ids: list[uuid.UUID] = Field(default_factory=list, max_length=LOOKUP_LIMIT)

    def _count(self) -> int:
        return len(self.id_numbers) + len(self.ids)


class StudentMatch(OutputModel):
    by: Literal["id", "id_number"]
    key: str = Field(description="The key asked (an ID number masked: first 6, last 4)")
    student: StudentPublic | None = Field(description="null: none inside the caller's scope")


class StudentLookupResult(OutputModel):
    items: list[StudentMatch]
    found: int = Field(examples=[1000])
    missing: int = Field(examples=[0])


@router.post(
    "/lookup",
    response_model=StudentLookupResult,
    summary="Look up to 1,000 students at once",
    openapi_extra={
        "requestBody": {"content": {"application/json": {"example": {"id_numbers": ["610928201503150012"]}}}}
    },
    responses=problems(403),
)
async def lookup_students(
    data: StudentLookup, session: SessionDep, principal: CurrentPrincipal
) -> StudentLookupResult:
    """Answer each id and ID number with the student (ID number masked) or null."""
    hashes = hashes_of(data.id_numbers)
    found: list[Student] = []
    if data.ids or hashes:
        stmt = select(Student).where(
            or_(Student.id.in_(set(data.ids)), Student.id_number_hash.in_(set(hashes))),
            service.visible_to(principal),
        )
        found = list((await session.execute(stmt)).scalars())
    by_id = {s.id: s for s in found}
    by_hash = {s.id_number_hash: s for s in found}
    items = [StudentMatch(by="id", key=str(i), student=_public(by_id.get(i))) for i in data.ids] + [
        StudentMatch(by="id_number", key=mask_id_number(n.upper()), student=_public(by_hash.get(h)))
        for n, h in zip(data.id_numbers, hashes, strict=True)
    ]
    hits = sum(1 for i in items if i.student is not None)
    return StudentLookupResult(items=items, found=hits, missing=len(items) - hits)


def _public(student: Student | None) -> StudentPublic | None:
    return None if student is None else service.to_public(student)
