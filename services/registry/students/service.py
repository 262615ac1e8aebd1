"""Students: enroll, read, list — inside the caller's scope, ID numbers encrypted."""

import functools
import uuid
from datetime import date
from types import SimpleNamespace
from typing import Any

from fastapi import Request
from sqlalchemy import bindparam, select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.contracts.vocabulary import compulsory_stage
from services.kit.auth import Principal, Role
from services.kit.crypto import id_cipher, id_numbers_in, mask_id_number, mask_student_number
from services.kit.db import read_walled
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import as_system, within
from services.kit.settings import get_settings
from services.kit.versioning import check_version
from services.registry.db import now
from services.registry.domain import Stage, categories_of, current_kinds
from services.registry.events import emit
from services.registry.households.models import Household
from services.registry.schools.models import School
from services.registry.schools.service import visible_to as school_visible_to
from services.registry.students.models import EnrollmentChange, Student
from services.registry.students.schemas import EnrollmentOut, StudentCreate, StudentPublic, StudentUpdate

# Usual age (on 1 September) at grade 1 of each stage; beyond ±2 years we flag, not refuse.
ENTRY_AGE = {
    Stage.preschool: 3,
    Stage.primary: 6,
    Stage.junior: 12,
    Stage.senior: 15,
    Stage.vocational: 15,
    Stage.higher: 18,
}
WRITERS = (Role.admin, Role.county, Role.school)
STUDENT_NUMBER = b"student_number"  # the encryption context of a 学籍号 holding an ID number


def id_number_hash(id_number: str) -> str:
    """The keyed lookup hash of an ID number (how a student is found by it; the plain number is not kept)."""
    return id_cipher(get_settings()).lookup_hash(id_number.strip().upper())


def _wall(role: Role, code: Any):
    if role is Role.school:
        return Student.school_code == code
    if role is Role.village:
        return within(Student.village_code, code)
    return within(Student.area_code, code)


def _code(principal: Principal) -> str | None:
    return principal.school_code if principal.role is Role.school else principal.area_code


def visible_to(principal: Principal):
    """Students the caller may see: by school area, own school, or household village."""
    return _wall(principal.role, _code(principal))


@functools.cache
def _by_id(kind: Role, coded: bool = True):
    """One student by id, as a caller of this kind sees it: built once (its SQL compiled once)."""
    code = bindparam("code") if coded else None  # a school user without a school: IS NULL, as visible_to
    return select(Student).where(Student.id == bindparam("student_id"), _wall(kind, code))


def _by_id_for(principal: Principal, student_id: uuid.UUID) -> tuple[Any, dict[str, Any]]:
    kind = principal.role if principal.role in (Role.school, Role.village) else Role.county  # by area
    code = _code(principal)
    return _by_id(kind, code is not None), {"student_id": student_id, "code": code}


async def get_student_or_404(session: AsyncSession, principal: Principal, student_id: uuid.UUID) -> Student:
    stmt, params = _by_id_for(principal, student_id)
    student = (await session.execute(stmt, params)).scalar_one_or_none()
    if student is None:
        raise NotFound("No such student")
    return student


async def read_student_or_404(request: Request, principal: Principal, student_id: uuid.UUID) -> Any:
    """A student to show (GET): the same statement and wall, read without a session (kit.db.read_walled).

    Its columns, by name, as a read-only record `to_public` renders: nothing here is written back.
    """
    stmt, params = _by_id_for(principal, student_id)
    rows = await read_walled(request, stmt, params)
    if not rows:
        raise NotFound("No such student")
    return SimpleNamespace(**rows[0])


def age_warnings(birth_date: date, stage: Stage, grade: int, on: date | None = None) -> list[str]:
    """Flag an age unusual for the stage and grade (repeaters and late starters are real)."""
    if stage not in ENTRY_AGE:
        return []
    on = on or calendar.today()
    age = calendar.age_on(birth_date, calendar.school_year_start(on))
    usual = ENTRY_AGE[stage] + (grade - 1)
    if abs(age - usual) > 2:
        return [f"age {age} is unusual for {stage.value} grade {grade} (usually about {usual})"]
    return []


async def _school_for_write(session: AsyncSession, principal: Principal, code: str) -> School:
    school = (
        await session.execute(select(School).where(School.code == code, school_visible_to(principal)))
    ).scalar_one_or_none()
    if school is None:
        raise Invalid(["enrollment", "school_code"], f"Unknown school {code}", code="unknown_school")
    return school


async def enroll(session: AsyncSession, principal: Principal, *, data: StudentCreate) -> Student:
    """Register a student (one ID number, one student, deployment-wide)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, school and admin users register students")
    school = await _school_for_write(session, principal, data.enrollment.school_code)
    if data.enrollment.stage not in school.stages:
        raise Invalid(
            ["enrollment", "stage"], f"School {school.code} does not offer {data.enrollment.stage.value}"
        )
    cipher = id_cipher(get_settings())
    id_hash = cipher.lookup_hash(data.id_number)
    await _refuse_duplicate(session, principal, id_hash)
    household = await household_for_link(session, principal, data.household_id) if data.household_id else None
    student = Student(
        id_number_enc=cipher.encrypt(data.id_number),
        id_number_hash=id_hash,
        **student_fields(data, school=school, household=household),
    )
    session.add(student)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("A student with this ID number is already registered") from exc
    session.add(
        EnrollmentChange(
            student_id=student.id,
            kind="enroll",
            effective_date=calendar.today(),
            to_status=student.status,
            to_school_code=student.school_code,
            to_area_code=student.area_code,
            village_code=student.village_code,
            stage=student.stage,
            grade=student.grade,
            actor=principal.username,
        )
    )
    await emit_student(session, student, "created")
    return student


def student_fields(data: StudentCreate, *, school: School, household: Household | None) -> dict[str, Any]:
    """Return a new student's stored fields (all but the ID number's ciphertext and hash)."""
    fields = own_fields(data)
    return fields | placed_fields(fields["groups"], school=school, household=household)


def own_fields(data: StudentCreate) -> dict[str, Any]:
    """Return the fields a validated body gives by itself (no school or household looked up)."""
    parsed_birth = date(int(data.id_number[6:10]), int(data.id_number[10:12]), int(data.id_number[12:14]))
    return {
        "name": data.name,
        "id_number_masked": mask_id_number(data.id_number),
        "gender": "male" if int(data.id_number[16]) % 2 else "female",
        "birth_date": parsed_birth,
        **student_number_fields(data.student_number or f"G{data.id_number}"),
        "ethnicity": data.ethnicity,
        "groups": [g.value for g in data.groups],
        "disability": data.disability.model_dump(mode="json") if data.disability else None,
        "stage": data.enrollment.stage.value,
        "grade": data.enrollment.grade,
        "class_name": data.enrollment.class_name,
        "boarding": data.enrollment.boarding,
        "status": data.enrollment.status.value,
        "warnings": age_warnings(parsed_birth, data.enrollment.stage, data.enrollment.grade),
    }


def student_number_fields(number: str) -> dict[str, Any]:
    """Return the stored 学籍号 columns: one holding an ID number is kept encrypted and shown masked."""
    if not id_numbers_in(number):
        return {"student_number": number, "student_number_enc": None}
    return {
        "student_number": mask_student_number(number),
        "student_number_enc": id_cipher(get_settings()).encrypt(number, STUDENT_NUMBER),
    }


def revealed_student_number(student: Student) -> str:
    """Return a student's whole 学籍号 (for the audited reveal only)."""
    if student.student_number_enc is None:
        return student.student_number
    return id_cipher(get_settings()).decrypt(student.student_number_enc, STUDENT_NUMBER)


def placed_fields(groups: list[str], *, school: School, household: Household | None) -> dict[str, Any]:
    """Return the fields that follow from the school and the household: area, village, categories."""
    kinds = current_kinds(household.statuses) if household else set()
    return {
        "household_id": household.id if household else None,
        "village_code": household.area_code if household else None,
        "categories": categories_of(groups=groups, household_kinds=kinds),
        "school_code": school.code,
        "area_code": school.area_code,
    }


def linkable_households(principal: Principal):
    """Households the caller may link students to: inside the area it writes (a school: its county)."""
    area = principal.area_code[:6] if principal.role is Role.school else principal.area_code
    return within(Household.area_code, area)


async def household_for_link(
    session: AsyncSession, principal: Principal, household_id: uuid.UUID
) -> Household:
    """Return a household the caller may link a student to (inside the area it writes)."""
    household = (
        await session.execute(
            select(Household).where(Household.id == household_id, linkable_households(principal))
        )
    ).scalar_one_or_none()
    if household is None:
        raise Invalid(["household_id"], "Unknown household", code="unknown_household")
    return household


async def update_student(
    session: AsyncSession,
    principal: Principal,
    *,
    student: Student,
    data: StudentUpdate,
    if_match: str | None,
) -> Student:
    """Change a student's own fields (not school or status: those are enrollment changes)."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, school and admin users change students")
    check_version(student.version, data.version, if_match)
    changes = data.model_dump(exclude_unset=True, exclude={"version", "enrollment", "household_id"})
    for key, value in changes.items():
        if value is None and key in ("name", "groups", "student_number"):
            raise Invalid([key], f"{key} cannot be null")
        if key == "student_number":
            for column, stored in student_number_fields(value).items():
                setattr(student, column, stored)
        else:
            setattr(student, key, value)
    if data.groups is not None:
        student.groups = sorted({g.value for g in data.groups} | ({"disabled"} if data.disability else set()))
    if "household_id" in data.model_fields_set:
        household = (
            await household_for_link(session, principal, data.household_id) if data.household_id else None
        )
        student.household_id = household.id if household else None
        student.village_code = household.area_code if household else None
    if data.enrollment is not None:
        await _patch_enrollment(session, student, data.enrollment)
    # The household may live outside the caller's area (a child who moved school); its statuses still
    # make the child's categories: a read across scopes on purpose (kit.rls).
    async with as_system(session):
        household = await session.get(Household, student.household_id) if student.household_id else None
    student.categories = categories_of(
        groups=list(student.groups), household_kinds=current_kinds(household.statuses) if household else set()
    )
    student.version += 1
    student.updated_at = now()
    session.add(student)
    await session.flush()
    await emit_student(session, student, "updated")
    return student


async def _patch_enrollment(session: AsyncSession, student: Student, patch) -> None:
    values = patch.model_dump(exclude_unset=True)
    if values.get("stage"):
        school = await session.get(School, student.school_code) if student.school_code else None
        if school is None or values["stage"] not in school.stages:
            raise Invalid(
                ["enrollment", "stage"], f"School {student.school_code} does not offer {values['stage']}"
            )
    for key, value in values.items():
        if value is not None:
            setattr(student, key, value.value if hasattr(value, "value") else value)


class RegisteredElsewhere(Conflict):
    code = "registered_elsewhere"


async def _refuse_duplicate(session: AsyncSession, principal: Principal, id_hash: str) -> None:
    # One ID number is one student deployment-wide: this lookup crosses scopes on purpose (kit.rls);
    # where the student is goes back only to a caller who sees it.
    async with as_system(session):
        existing = (
            await session.execute(
                select(Student.id, Student.school_code).where(Student.id_number_hash == id_hash)
            )
        ).first()
    if existing is None:
        return
    visible = (
        await session.execute(select(Student.id).where(Student.id == existing.id, visible_to(principal)))
    ).first()
    if visible:
        raise Conflict(
            "A student with this ID number is already registered",
            extra={"existing": {"id": str(existing.id), "school_code": existing.school_code}},
        )
    # The same answer wherever the student is (another school of the county, another county): it
    # names no place, only the way to bring the child here. The gateway audits the refused write.
    raise RegisteredElsewhere(
        "A student with this ID number is already registered elsewhere in this deployment. To enroll "
        "the child here, ask the school or county bureau where the child is registered to request a "
        "transfer to your school; you accept it under GET /api/v1/transfers?direction=incoming "
        "(POST /api/v1/transfers/{id}/accept)"
    )


def student_data(student: Student) -> dict:
    """The event payload: what consumers need, never the plain ID number."""
    return {
        "id": str(student.id),
        "name": student.name,
        "gender": student.gender,
        "birth_date": student.birth_date.isoformat(),
        "id_number_hash": student.id_number_hash,
        "id_number_masked": student.id_number_masked,
        "student_number": mask_student_number(student.student_number),
        "ethnicity": student.ethnicity,
        "household_id": str(student.household_id) if student.household_id else None,
        "village_code": student.village_code,
        "groups": list(student.groups),
        "disability": student.disability,
        "categories": list(student.categories),
        "school_code": student.school_code,
        "area_code": student.area_code,
        "stage": student.stage,
        "grade": student.grade,
        "class_name": student.class_name,
        "boarding": student.boarding,
        "status": student.status,
        "compulsory": compulsory_stage(student.stage, student.grade),
    }


async def emit_student(
    session: AsyncSession, student: Student, what: str, *, change: dict | None = None
) -> None:
    data = student_data(student) | ({"change": change} if change else {})
    await emit(
        session,
        f"edu.registry.student.{what}",
        subject=str(student.id),
        area_code=student.area_code,
        school_code=student.school_code,
        version=student.version,
        data=data,
    )


def to_public(student: Student, *, reveal: bool = False) -> StudentPublic:
    """Render a student; the ID number only when revealed."""
    out = StudentPublic.model_validate(
        {
            **{
                k: getattr(student, k)
                for k in (
                    "id",
                    "name",
                    "id_number_masked",
                    "gender",
                    "birth_date",
                    "student_number",
                    "ethnicity",
                    "household_id",
                    "groups",
                    "disability",
                    "categories",
                    "area_code",
                    "warnings",
                    "version",
                    "created_at",
                    "updated_at",
                )
            },
            "enrollment": EnrollmentOut.model_validate(student),
        }
    )
    if reveal:
        out.id_number = id_cipher(get_settings()).decrypt(student.id_number_enc)
        out.student_number = revealed_student_number(student)
    else:  # 学籍号 is usually G + the ID number: shown masked unless the ID number is revealed
        out.student_number = mask_student_number(student.student_number)
    return out
