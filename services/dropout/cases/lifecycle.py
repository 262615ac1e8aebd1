"""How a case moves: escalate, close, confirm a return, reopen — each with its event and tasks."""

from datetime import UTC, date, datetime, time, timedelta

from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import zone
from services.dropout.cases.models import Case, CaseAction
from services.dropout.cases.opening import case_event, opening_tasks
from services.dropout.db import now
from services.dropout.domain import NEXT_LEVEL, CaseStatus, CloseOutcome, Level, today_local
from services.dropout.events import emit_all
from services.dropout.students.models import Student
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, complete_tasks, task_row

SYSTEM = "system"


def _touch(case: Case) -> None:
    case.version += 1
    case.updated_at = now()


def system_time(on: date) -> datetime:
    """Noon (local time) of a day, for steps the system takes "on" that day."""
    return datetime.combine(on, time(12), zone()).astimezone(UTC)


async def escalate(
    session: AsyncSession,
    case: Case,
    student: Student,
    *,
    trigger: str,
    on: date,
    actor: str,
    note: str | None,
    at: datetime | None = None,
) -> None:
    """Move the case up one level (school → township → county); record a system step unless a user did."""
    from_level = case.level
    case.level = NEXT_LEVEL[Level(case.level)].value
    case.status = CaseStatus.escalated.value
    case.level_since = on
    _touch(case)
    if trigger != "action":
        session.add(
            CaseAction(
                case_id=case.id,
                kind="escalate",
                occurred_at=at or system_time(on),
                actor=actor,
                actor_role=SYSTEM,
                note=note,
                level_after=case.level,
            )
        )
    session.add(case)
    await session.flush()
    await emit_all(
        session,
        [
            case_event(
                "escalated",
                case,
                student,
                from_level=from_level,
                trigger=trigger,
                escalated_on=on.isoformat(),
            )
        ],
    )
    # The new level now leads the persuasion: its "review" notice becomes a "persuade" task.
    await complete_tasks(session, Task.key == f"case:{case.id}:{case.level}:review_case", by=SYSTEM)
    await add_tasks(
        session,
        [
            task_row(
                key=f"case:{case.id}:{case.level}:persuade",
                kind="persuade",
                role=case.level,
                due_on=today_local() + timedelta(days=3),
                student=student,
                case_id=case.id,
                title=f"升级劝返：{student.name}（{case.absent_since or case.opened_on}起未到校）",
            )
        ],
    )


async def close(
    session: AsyncSession, case: Case, student: Student, *, outcome: CloseOutcome, on: date
) -> None:
    """End the case; a return waits in returned_pending until attendance confirms it."""
    case.outcome = outcome.value
    case.closed_on = on
    if outcome is CloseOutcome.returned:
        case.status, case.returned_on = CaseStatus.returned_pending.value, on
    else:
        case.status = CaseStatus.closed.value
    _touch(case)
    session.add(case)
    await session.flush()
    await emit_all(session, [case_event("closed", case, student)])
    await complete_tasks(session, Task.case_id == case.id, by=SYSTEM)


async def confirm_return(session: AsyncSession, case: Case, student: Student, *, on: date) -> None:
    """The returned student attended the confirmation days: the case is closed."""
    case.status, case.confirmed_on = CaseStatus.closed.value, on
    _touch(case)
    session.add(case)
    await session.flush()
    await emit_all(session, [case_event("returned_confirmed", case, student)])


async def reopen(
    session: AsyncSession, case: Case, student: Student, *, on: date, absent_since: date
) -> None:
    """The returned student stopped coming again before the return was confirmed: back to open."""
    case.status = CaseStatus.open.value if case.level == Level.school else CaseStatus.escalated.value
    case.outcome = case.returned_on = case.closed_on = None
    case.absent_since, case.level_since = absent_since, on
    _touch(case)
    session.add(case)
    await session.flush()
    await emit_all(session, [case_event("reopened", case, student, reopened_on=on.isoformat())])
    await add_tasks(session, opening_tasks(case, student))
