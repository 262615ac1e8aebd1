"""A roster child's case follows the child into the registry.

A child the platform's roster found out of school and the registry did not know has a stand-in
row here (students/unregistered.py) and a case on it. The child enters the registry the ordinary
way — the county or the school that takes the child in registers it (`POST /api/v1/students` or
an import) with its ID number — and the registry's `edu.registry.student.*` event carries the ID
number's keyed hash. When the student consumer applies a student whose hash is a stand-in's, it
moves the stand-in's cases (with their actions: the history stays), its tasks and the roster's
household id onto the student, and drops the stand-in — in the same transaction as the student's
own row. The roster consumer and the student consumer take the same per-child lock, so a roster
applied while the child is being registered either finds the student or leaves a stand-in that
the registration then links.
"""

import structlog
from sqlalchemy import delete, func, select, text, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.dropout.cases.models import Case
from services.dropout.cases.opening import ACTIVE_WHERE, case_event
from services.dropout.domain import ACTIVE_STATUSES
from services.dropout.events import emit_all
from services.dropout.students.models import Student
from services.dropout.students.unregistered import NOT_REGISTERED, stand_in_id
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, task_row

log = structlog.get_logger()
LOCK_NAMESPACE = 11_03  # pg_advisory_xact_lock(namespace, key): this module's locks only


async def lock_child(session: AsyncSession, id_number_hash: str) -> None:
    """Hold the per-child lock until the transaction ends."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(:ns, hashtext(:h))"), {"ns": LOCK_NAMESPACE, "h": id_number_hash}
    )


async def link_registered(session: AsyncSession, student: Student) -> int:
    """Move the cases of the stand-in with the student's ID number hash onto it; return how many."""
    if not student.id_number_hash or student.status == NOT_REGISTERED:
        return 0
    stand = await session.get(Student, stand_in_id(student.id_number_hash), populate_existing=True)
    if stand is None or stand.status != NOT_REGISTERED:
        return 0
    if await _active_case(session, student) and await _active_case(session, stand):
        # Both followed at once (cannot happen through the consumers): keep both, tell the operators.
        log.warning("roster child registered with an active case of its own", student_id=str(student.id))
        return 0
    moved = list(
        (
            await session.execute(
                update(Case)
                .where(Case.student_id == stand.id)
                .values(student_id=student.id, version=Case.version + 1, updated_at=func.now())
                .returning(Case.id)
            )
        ).scalars()
    )  # the copy_student_codes trigger gives each case the student's school, area and village
    await _move_tasks(session, stand, student)
    if student.household_platform_id is None:
        student.household_platform_id = stand.household_platform_id
        session.add(student)
    await session.execute(delete(Student).where(Student.id == stand.id))
    await session.flush()
    cases = (await session.execute(select(Case).where(Case.id.in_(moved)).execution_options(
        populate_existing=True))).scalars().all()  # fmt: skip
    await emit_all(session, [case_event("updated", c, student) for c in cases])
    await add_tasks(session, [_school_review(c, student) for c in cases if _needs_school(c, student)])
    return len(cases)


async def _active_case(session: AsyncSession, student: Student) -> bool:
    stmt = select(Case.id).where(Case.student_id == student.id, ACTIVE_WHERE)
    return (await session.execute(stmt)).first() is not None


async def _move_tasks(session: AsyncSession, stand: Student, student: Student) -> None:
    """The stand-in's tasks (open and done) are the student's now, where the student is."""
    await session.execute(
        update(Task)
        .where(Task.student_id == stand.id)
        .values(
            student_id=student.id,
            student_name=student.name,
            school_code=student.school_code,
            area_code=student.area_code,
            village_code=student.village_code,
            version=Task.version + 1,
            updated_at=func.now(),
        )
    )


def _needs_school(case: Case, student: Student) -> bool:
    return bool(student.school_code) and case.status in ACTIVE_STATUSES


def _school_review(case: Case, student: Student) -> dict:
    """The school that registered the child confirms it attends and closes the case (or persuades)."""
    return task_row(
        key=f"case:{case.id}:school:review_case",
        kind="review_case",
        role="school",
        due_on=calendar.today() + calendar.ONE_DAY * 3,
        student=student,
        case_id=case.id,
        title=f"核实：{student.name}（平台名单未在校）已登记学籍，到校则结案，未到校则劝返",
    )
