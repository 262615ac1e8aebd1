"""A child's responsible persons on the two lines (双线控辍): its own, else its unit's; letters (责任书)."""

import uuid
from collections.abc import Sequence

from sqlalchemy import exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import (
    RESPONSIBLE_LINE_OF,
    RESPONSIBLE_ROLE_NAMES,
    ResponsibleLine,
    ResponsibleRole,
)
from services.dropout.events import emit_all, event
from services.dropout.responsible.models import ResponsibilityLetter, ResponsibleDefault, ResponsiblePerson
from services.dropout.responsible.schemas import DefaultPut, LetterCreate, ResponsiblePublic, ResponsiblePut
from services.dropout.students.models import Student
from services.dropout.students.scope import student_ref, visible_to
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid

WRITERS = (Role.admin, Role.county, Role.township, Role.school)
UNIT_LENGTH = {
    ResponsibleRole.head_teacher: 10,
    ResponsibleRole.principal: 10,
    ResponsibleRole.village_head: 12,
    ResponsibleRole.township_head: 9,
}


def unit_of(student: Student, role: ResponsibleRole) -> str | None:
    """The unit whose default a child gets for a role: its school, its village, its township."""
    if RESPONSIBLE_LINE_OF[role] is ResponsibleLine.education:
        return student.school_code
    village = student.village_code
    if role is ResponsibleRole.village_head:
        return village
    area = village or student.area_code or ""
    return area[:9] if len(area) >= 9 else None


def check_writer(principal: Principal, role: ResponsibleRole) -> None:
    """County, township and admin name anyone; a school its education line only; villages read."""
    if principal.role not in WRITERS:
        raise Forbidden("Only county, township, school and admin users name responsible persons")
    if principal.role is Role.school and RESPONSIBLE_LINE_OF[role] is not ResponsibleLine.education:
        raise Forbidden("A school names the persons of the education line (head teacher, principal)")


async def resolve(
    session: AsyncSession, students: Sequence[Student]
) -> dict[uuid.UUID, list[ResponsiblePublic]]:
    """Return each child's four responsible persons (its own, else its unit's) with their letters."""
    ids = [s.id for s in students]
    if not ids:
        return {}
    own = {
        (p.student_id, p.role): p
        for p in (
            await session.execute(select(ResponsiblePerson).where(ResponsiblePerson.student_id.in_(ids)))
        ).scalars()
    }
    units = {u for s in students for r in ResponsibleRole if (u := unit_of(s, r))}
    defaults = {
        (d.unit_code, d.role): d
        for d in (
            await session.execute(select(ResponsibleDefault).where(ResponsibleDefault.unit_code.in_(units)))
        ).scalars()
    }
    letters: dict[tuple, list] = {}
    rows = await session.execute(
        select(ResponsibilityLetter)
        .where(ResponsibilityLetter.student_id.in_(ids))
        .order_by(ResponsibilityLetter.signed_on, ResponsibilityLetter.created_at)
    )
    for letter in rows.scalars():
        letters.setdefault((letter.student_id, letter.role), []).append(letter.model_dump())
    out = {}
    for s in students:
        persons = []
        for role in ResponsibleRole:
            unit = unit_of(s, role)
            person, source = own.get((s.id, role.value)), "student"
            if person is None:
                person, source = defaults.get((unit, role.value)), "unit"
            persons.append(
                ResponsiblePublic(
                    role=role.value,
                    role_name=RESPONSIBLE_ROLE_NAMES[role],
                    line=RESPONSIBLE_LINE_OF[role].value,
                    name=person.name if person else None,
                    phone=person.phone if person else None,
                    username=person.username if person else None,
                    source=source if person else None,
                    unit_code=unit,
                    letters=letters.get((s.id, role.value), []),
                )
            )
        out[s.id] = persons
    return out


def _event(student: Student, role: str, *, name: str | None, version: int, letter=None) -> dict:
    return event(
        "edu.dropout.responsible.updated",
        subject=str(student.id),
        area_code=student.area_code,
        school_code=student.school_code,
        version=version,
        data=student_ref(student)
        | {
            "role": role,
            "line": RESPONSIBLE_LINE_OF[ResponsibleRole(role)].value,
            "name": name,
            "letter_id": str(letter.id) if letter else None,
            "signed_on": letter.signed_on.isoformat() if letter else None,
        },
    )


async def set_persons(
    session: AsyncSession, principal: Principal, student: Student, *, data: ResponsiblePut
) -> None:
    """Name the child's own responsible persons for the roles given (the others keep theirs)."""
    roles = [p.role for p in data.persons]
    if len(set(roles)) != len(roles):
        raise Invalid(["persons"], "Each role at most once", code="duplicate")
    for p in data.persons:
        check_writer(principal, p.role)
    table = ResponsiblePerson.__table__
    events = []
    for p in data.persons:
        who = {"name": p.name, "phone": p.phone, "username": p.username, "set_by": principal.username}
        values = {"id": uuid.uuid4(), "student_id": student.id, "role": p.role.value, "version": 1, **who}
        stmt = insert(table).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=[table.c.student_id, table.c.role],
            set_={k: stmt.excluded[k] for k in ("name", "phone", "username", "set_by")}
            | {"version": table.c.version + 1, "updated_at": func.now()},
        ).returning(table.c.version)
        version = (await session.execute(stmt)).scalar_one()
        events.append(_event(student, p.role.value, name=p.name, version=version))
    await emit_all(session, events)


async def add_letter(
    session: AsyncSession, principal: Principal, student: Student, *, data: LetterCreate
) -> ResponsibilityLetter:
    """Record a signed responsibility letter (责任书) for a child and a role."""
    check_writer(principal, data.role)
    letter = ResponsibilityLetter(
        student_id=student.id,
        role=data.role.value,
        signer_name=data.signer_name,
        signed_on=data.signed_on,
        evidence_id=data.evidence_id,
        recorded_by=principal.username,
        area_code=student.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
    )
    session.add(letter)
    await session.flush()
    await emit_all(
        session, [_event(student, data.role.value, name=data.signer_name, version=1, letter=letter)]
    )
    return letter


async def _check_unit(session: AsyncSession, principal: Principal, data: DefaultPut) -> None:
    if len(data.unit_code) != UNIT_LENGTH[data.role]:
        raise Invalid(["unit_code"], f"A {data.role.value}'s unit is a {UNIT_LENGTH[data.role]}-digit code")
    if UNIT_LENGTH[data.role] != 10:
        if not principal.covers_area(data.unit_code):
            raise Invalid(["unit_code"], "The area is outside yours", code="out_of_scope")
        return
    # The service knows a school through its students: one of them in the caller's scope suffices.
    known = await session.scalar(
        select(exists().where(Student.school_code == data.unit_code, visible_to(principal)))
    )
    if not known:
        raise Invalid(["unit_code"], "No such school in your scope", code="unknown_school")


async def set_default(session: AsyncSession, principal: Principal, *, data: DefaultPut) -> ResponsibleDefault:
    """Name a unit's responsible person for a role: every child of the unit without its own gets them."""
    check_writer(principal, data.role)
    await _check_unit(session, principal, data)
    table = ResponsibleDefault.__table__
    who = {"name": data.name, "phone": data.phone, "username": data.username, "set_by": principal.username}
    values = {"id": uuid.uuid4(), "unit_code": data.unit_code, "role": data.role.value, "version": 1, **who}
    stmt = insert(table).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=[table.c.unit_code, table.c.role],
        set_={k: stmt.excluded[k] for k in ("name", "phone", "username", "set_by")}
        | {"version": table.c.version + 1, "updated_at": func.now()},
    ).returning(table.c.id)
    row_id = (await session.execute(stmt)).scalar_one()
    return await session.get(ResponsibleDefault, row_id, populate_existing=True)
