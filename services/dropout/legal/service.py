"""Legal steps on a case (依法控辍): a dated notice to the guardian after a failed persuasion, then the
steps that follow to an outcome; a deadline is a task for whoever leads the case."""

import uuid
from datetime import timedelta

from sqlalchemy import exists, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import today
from services.contracts.vocabulary import LEGAL_STEP_KIND_NAMES, LegalStepKind
from services.dropout.cases.models import Case, CaseAction
from services.dropout.cases.opening import case_event
from services.dropout.cases.service import case_or_404
from services.dropout.db import now
from services.dropout.domain import ActionKind, ActionOutcome, CaseStatus
from services.dropout.events import emit_all
from services.dropout.legal.models import LegalStep
from services.dropout.legal.schemas import StepCreate, StepPublic
from services.dropout.students.models import Student
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import add_tasks, complete_tasks, task_row
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid
from services.kit.settings import get_settings

WRITERS = (Role.admin, Role.county, Role.township, Role.school)
DEADLINE_TASK = "legal_deadline"


def public(step: LegalStep, student_id: uuid.UUID) -> StepPublic:
    name = LEGAL_STEP_KIND_NAMES[LegalStepKind(step.kind)]
    return StepPublic.model_validate(step.model_dump() | {"kind_name": name, "student_id": student_id})


async def _check(session: AsyncSession, case: Case, data: StepCreate, on) -> None:
    if case.status == CaseStatus.closed:
        raise Conflict("The case is closed")
    if on > today():
        raise Invalid(["step_on"], "step_on is in the future")
    if on < case.opened_on:
        raise Invalid(["step_on"], "step_on is before the case was opened")
    if data.deadline is not None and data.deadline <= on:
        raise Invalid(["deadline"], "The deadline must come after the step")
    if data.kind is LegalStepKind.concluded and data.outcome is None:
        raise Invalid(["outcome"], "A concluded case's legal steps need an outcome", code="missing")
    if data.kind is LegalStepKind.notice:
        failed = await session.scalar(
            select(
                exists().where(
                    CaseAction.case_id == case.id,
                    CaseAction.kind == ActionKind.persuasion.value,
                    CaseAction.outcome == ActionOutcome.failed.value,
                )
            )
        )
        if not failed:
            raise Conflict(
                "A notice to the guardian follows a failed persuasion (劝返未果); record that first"
            )
        return
    noticed = await session.scalar(
        select(exists().where(LegalStep.case_id == case.id, LegalStep.kind == LegalStepKind.notice.value))
    )
    if not noticed:
        raise Conflict("The legal steps begin with a notice to the guardian (限期复学通知书)")


def _deadline_task(case: Case, student: Student, step: LegalStep) -> dict:
    return task_row(
        key=f"case:{case.id}:legal:{step.id}",
        kind=DEADLINE_TASK,
        role=case.level,
        due_on=step.deadline,
        student=student,
        case_id=case.id,
        title=f"复学期限届满：{student.name}（{LEGAL_STEP_KIND_NAMES[LegalStepKind(step.kind)]}，"
        f"限{step.deadline:%m月%d日}前复学），核实是否返校",
    )


async def record_step(
    session: AsyncSession, principal: Principal, *, case_id: uuid.UUID, data: StepCreate
) -> tuple[LegalStep, uuid.UUID]:
    """Record a legal step; a deadline becomes a task for the level leading the case."""
    if principal.role not in WRITERS:
        raise Forbidden("Only school, township, county and admin users take legal steps")
    case, student = await case_or_404(session, principal, case_id, lock=True)
    on = data.step_on or today()
    await _check(session, case, data, on)
    deadline = data.deadline
    if data.kind is LegalStepKind.notice and deadline is None:
        deadline = on + timedelta(days=get_settings().dropout_notice_days)
    step = LegalStep(
        case_id=case.id,
        kind=data.kind.value,
        step_on=on,
        deadline=deadline,
        guardian_name=data.guardian_name,
        number=data.number,
        authority=data.authority,
        outcome=data.outcome.value if data.outcome else None,
        note=data.note,
        evidence_id=data.evidence_id,
        actor=principal.username,
        actor_role=principal.role.value,
    )
    session.add(step)
    case.version += 1
    case.updated_at = now()
    session.add(case)
    await session.flush()
    extra = {
        "step_id": str(step.id),
        "step_kind": step.kind,
        "step_on": on.isoformat(),
        "deadline": deadline.isoformat() if deadline else None,
        "step_outcome": step.outcome,
    }
    await emit_all(session, [case_event("legal_step_recorded", case, student, **extra)])
    # A later step answers the earlier deadline.
    await complete_tasks(session, Task.case_id == case.id, Task.kind == DEADLINE_TASK, by=principal.username)
    if deadline is not None and data.kind is not LegalStepKind.concluded:
        await add_tasks(session, [_deadline_task(case, student, step)])
    return step, student.id


async def steps_of(session: AsyncSession, case_id: uuid.UUID) -> list[LegalStep]:
    rows = await session.execute(
        select(LegalStep)
        .where(LegalStep.case_id == case_id)
        .order_by(LegalStep.step_on, LegalStep.created_at)
    )
    return list(rows.scalars())
