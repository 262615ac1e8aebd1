"""The helper's due rules: a contact every NOL_SUPPORT_CONTACT_EVERY_DAYS, a home visit every
NOL_SUPPORT_VISIT_EVERY_DAYS — each an open task, due that long after the last one (or the start)."""

from datetime import date, timedelta

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import local_date, today
from services.contracts.vocabulary import SupportRecordKind
from services.dropout.students.models import Student
from services.dropout.support.models import Pairing, SupportRecord
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, complete_tasks, task_row
from services.kit.settings import get_settings

HELPER = "helper"  # the role of a task assigned to a named user of ours


def task_role(pairing: Pairing, student: Student) -> str:
    """Who follows a pairing's due rules: the helper when a user of ours, else the village cadres
    (the school when the household's village is unknown)."""
    if pairing.helper_username:
        return HELPER
    return "village" if student.village_code else "school"


async def last_records(session: AsyncSession, pairing: Pairing) -> tuple:
    """Return (latest record of any kind, latest home visit) of a pairing."""
    visit = SupportRecord.kind == SupportRecordKind.home_visit.value
    row = (
        await session.execute(
            select(
                func.max(SupportRecord.occurred_at), func.max(SupportRecord.occurred_at).filter(visit)
            ).where(SupportRecord.pairing_id == pairing.id)
        )
    ).one()
    return row[0], row[1]


def _due(pairing: Pairing, last, every: int) -> date:
    start = local_date(last) if last is not None else pairing.since
    return max(start, pairing.since) + timedelta(days=every)


async def refresh_due(session: AsyncSession, pairing: Pairing, student: Student, *, by: str) -> None:
    """Move the pairing's open contact and visit tasks to their next due dates (done, then anew)."""
    settings = get_settings()
    prefix = f"support:{pairing.id}:"
    last_contact, last_visit = await last_records(session, pairing)
    wanted = {
        "support_contact": _due(pairing, last_contact, settings.support_contact_every_days),
        "support_home_visit": _due(pairing, last_visit, settings.support_visit_every_days),
    }
    ended = pairing.until is not None and pairing.until < today()
    open_due = dict(
        (
            await session.execute(
                select(Task.kind, Task.due_on).where(Task.key.startswith(prefix), Task.status == "open")
            )
        ).all()
    )
    changed = [k for k, due in wanted.items() if ended or open_due.get(k) != due]
    if not changed:
        return
    await complete_tasks(session, Task.key.in_([prefix + k for k in changed]), by=by)
    if ended:
        return
    titles = {"support_contact": "结对帮扶：联系", "support_home_visit": "结对帮扶：家访"}
    rows = []
    for kind in changed:
        rows.append(
            task_row(
                key=prefix + kind,
                kind=kind,
                role=task_role(pairing, student),
                due_on=wanted[kind],
                student=student,
                assignee=pairing.helper_username,
                title=f"{titles[kind]}{student.name}（帮扶人：{pairing.helper_name}）",
            )
        )
    await add_tasks(session, rows)
