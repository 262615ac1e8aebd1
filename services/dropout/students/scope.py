"""Which students a caller may see: by school area, own school, or household village."""

import uuid

from sqlalchemy import select
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel.ext.asyncio.session import AsyncSession

from services.dropout.domain import is_compulsory, today_local
from services.dropout.students.models import Student
from services.kit.auth import Principal, Role
from services.kit.errors import Invalid, NotFound
from services.kit.rls import within


def visible_to(principal: Principal) -> ColumnElement[bool]:
    """SQL filter on `student`: the caller's school, village or area."""
    if principal.role is Role.school:
        return Student.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Student.village_code, principal.area_code)
    return within(Student.area_code, principal.area_code)


async def student_or_404(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> Student:
    student = (
        await session.execute(select(Student).where(Student.id == student_id, visible_to(principal)))
    ).scalar_one_or_none()
    if student is None:
        raise NotFound("No such student")
    return student


async def student_for_write(
    session: AsyncSession, principal: Principal, student_id: uuid.UUID, loc: list | None = None
) -> Student:
    """Return a student in scope named in a request body, or a 422 naming the field."""
    student = (
        await session.execute(select(Student).where(Student.id == student_id, visible_to(principal)))
    ).scalar_one_or_none()
    if student is None:
        raise Invalid(loc or ["student_id"], "Unknown student", code="unknown_student")
    return student


def student_ref(student: Student, on=None) -> dict:
    """The student fields every dropout event carries (what statistics counts by)."""
    return {
        "student_id": str(student.id),
        "school_code": student.school_code,
        "area_code": student.area_code,
        "village_code": student.village_code,
        "stage": student.stage,
        "grade": student.grade,
        "birth_date": student.birth_date.isoformat() if student.birth_date else None,
        "compulsory": is_compulsory(
            stage=student.stage, birth_date=student.birth_date, on=on or today_local()
        ),
    }
