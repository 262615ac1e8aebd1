"""Cases: list, read, open by hand, update, and record actions — inside the caller's scope."""

import uuid
from datetime import UTC, datetime

from sqlalchemy import Select, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import CLIENT_CLOCK_SKEW
from services.dropout.cases import lifecycle
from services.dropout.cases.checks import check_returns
from services.dropout.cases.models import Case, CaseAction
from services.dropout.cases.opening import case_event, open_case
from services.dropout.cases.schemas import ActionCreate, CaseCreate, CasePublic, CaseUpdate
from services.dropout.db import now
from services.dropout.domain import (
    UNRETURNED_STATUSES,
    ActionKind,
    ActionOutcome,
    CaseSource,
    CaseStatus,
    CloseOutcome,
    Level,
    local_date,
    today_local,
)
from services.dropout.events import emit_all
from services.dropout.evidence import service as evidence
from services.dropout.responsible.service import resolve as resolve_responsible
from services.dropout.students.models import Student
from services.dropout.students.scope import student_for_write, visible_to
from services.dropout.students.unregistered import NOT_REGISTERED
from services.dropout.tasks.models import Task
from services.dropout.tasks.service import complete_tasks
from services.kit import client_ids
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.versioning import check_version

OPENERS = (Role.admin, Role.county, Role.school)
MANAGERS = (Role.admin, Role.county, Role.township, Role.school)
VILLAGE_KINDS = (ActionKind.contact, ActionKind.home_visit, ActionKind.persuasion)


def in_scope(principal: Principal) -> Select:
    """Cases of the students the caller sees (a case follows its student's school and village)."""
    return select(Case, Student).join(Student, Student.id == Case.student_id).where(visible_to(principal))


async def case_or_404(
    session: AsyncSession, principal: Principal, case_id: uuid.UUID, *, lock: bool = False
) -> tuple[Case, Student]:
    stmt = in_scope(principal).where(Case.id == case_id)
    row = (await session.execute(stmt.with_for_update(of=Case) if lock else stmt)).first()
    if row is None:
        raise NotFound("No such case")
    return row[0], row[1]


async def to_public(session: AsyncSession, pairs: list[tuple[Case, Student]]) -> list[CasePublic]:
    """Render cases with their actions (one query for all)."""
    ids = [c.id for c, _ in pairs]
    actions: dict[uuid.UUID, list[CaseAction]] = {i: [] for i in ids}
    if ids:
        rows = await session.execute(
            select(CaseAction)
            .where(CaseAction.case_id.in_(ids))
            .order_by(CaseAction.occurred_at, CaseAction.created_at)
        )
        for a in rows.scalars():
            actions[a.case_id].append(a)
    responsible = await resolve_responsible(session, list({s.id: s for _, s in pairs}.values()))
    return [
        CasePublic.model_validate(
            c.model_dump()
            | {
                "student_name": s.name,
                "student_registered": s.status != NOT_REGISTERED,
                "id_number_masked": s.id_number_masked,
                "household_platform_id": s.household_platform_id,
                "school_code": s.school_code,
                "village_code": s.village_code,
                "actions": [a.model_dump() for a in actions[c.id]],
                "responsible": responsible.get(s.id, []),
            }
        )
        for c, s in pairs
    ]


async def create_case(
    session: AsyncSession, principal: Principal, *, data: CaseCreate
) -> tuple[Case, Student]:
    """Open a case by hand (school, county): one active case per student."""
    if principal.role not in OPENERS:
        raise Forbidden("Only school, county and admin users open cases")
    student = await student_for_write(session, principal, data.student_id)
    opened_on = data.opened_on or today_local()
    if opened_on > today_local():
        raise Invalid(["opened_on"], "opened_on is in the future")
    case = await open_case(
        session,
        student=student,
        source=CaseSource.manual,
        opened_on=opened_on,
        absent_since=data.absent_since,
        reason_group=data.reason_group.value if data.reason_group else None,
        actor=principal.username,
        note=data.note,
    )
    if case is None:
        existing = (
            await session.execute(
                select(Case.id).where(Case.student_id == student.id, Case.status != CaseStatus.closed)
            )
        ).scalar()
        raise Conflict("The student already has an active case", extra={"existing_case_id": str(existing)})
    return case, student


async def update_case(
    session: AsyncSession, principal: Principal, *, case_id: uuid.UUID, data: CaseUpdate, if_match: str | None
) -> tuple[Case, Student]:
    """Set the reason group or the note (`version` or If-Match)."""
    if principal.role not in MANAGERS:
        raise Forbidden("Village users record actions; they do not edit cases")
    case, student = await case_or_404(session, principal, case_id, lock=True)
    check_version(case.version, data.version, if_match)
    changes = data.model_dump(exclude_unset=True, exclude={"version"}, mode="json")
    for key, value in changes.items():
        setattr(case, key, value)
    case.version += 1
    case.updated_at = now()
    session.add(case)
    await session.flush()
    await emit_all(session, [case_event("updated", case, student)])
    return case, student


def _check_action(principal: Principal, case: Case, data: ActionCreate, at: datetime) -> None:
    if principal.role not in (*MANAGERS, Role.village):
        raise Forbidden(f"Role '{principal.role}' may not act on cases")
    if principal.role is Role.village and data.kind not in VILLAGE_KINDS:
        raise Forbidden("Village users record contacts, home visits and persuasion")
    if data.kind is ActionKind.close:
        if data.outcome not in set(CloseOutcome):
            raise Invalid(["outcome"], f"A close needs an outcome: {', '.join(CloseOutcome)}", code="missing")
    elif data.kind is ActionKind.escalate:
        if data.outcome is not None:
            raise Invalid(["outcome"], "An escalation has no outcome")
    elif data.outcome is not None and data.outcome not in set(ActionOutcome):
        raise Invalid(["outcome"], f"outcome must be one of {', '.join(ActionOutcome)}")
    if local_date(at) < (case.absent_since or case.opened_on):
        raise Invalid(["occurred_at"], "occurred_at is before the student stopped coming")
    if case.status == CaseStatus.closed:
        raise Conflict("The case is closed")
    if case.status == CaseStatus.returned_pending and data.kind not in VILLAGE_KINDS:
        raise Conflict("The student has returned; the case waits for attendance to confirm it")
    if data.kind is ActionKind.escalate and case.level == Level.county:
        raise Conflict("The case is already with the county")


async def _replayed(
    session: AsyncSession, principal: Principal, *, case_id: uuid.UUID, data: ActionCreate
) -> bool:
    """Whether this action (by its client id) is already recorded with the same content; 409 when the
    id is another's. Called with the case locked, so two sends at once are one after the other."""
    kept = await client_ids.stored(session, CaseAction, data.id)
    if kept is None:
        return False
    given = {"case_id": case_id, "kind": data.kind.value, "note": data.note, "outcome": data.outcome}
    if not (
        client_ids.same_fields(given, kept)
        and client_ids.same_time(data.occurred_at, kept.occurred_at, skew=CLIENT_CLOCK_SKEW)
        and sorted(data.evidence) == sorted(kept.evidence)
        and kept.actor == principal.username
    ):
        raise client_ids.conflict(kept.id, "action")
    return True


async def record_action(
    session: AsyncSession, principal: Principal, *, case_id: uuid.UUID, data: ActionCreate
) -> tuple[Case, Student, bool]:
    """Record a contact, visit, persuasion, escalation or close, and apply what follows from it.
    The flag says the action was already recorded under its client id (nothing done again)."""
    case, student = await case_or_404(session, principal, case_id, lock=True)
    if await _replayed(session, principal, case_id=case_id, data=data):
        return case, student, True
    at = data.occurred_at or datetime.now(UTC)
    if at.tzinfo is None:
        raise Invalid(["occurred_at"], "occurred_at needs a time zone (e.g. Z or +08:00)")
    _check_action(principal, case, data, at)
    on = local_date(at)
    level_after = case.level
    if data.kind is ActionKind.escalate:
        level_after = {"school": "township", "township": "county"}[case.level]
    action = CaseAction(
        **({"id": data.id} if data.id else {}),
        case_id=case.id,
        kind=data.kind.value,
        occurred_at=at,
        actor=principal.username,
        actor_role=principal.role.value,
        note=data.note,
        outcome=data.outcome,
        level_after=level_after,
        evidence=await evidence.attach(
            session, principal, ids=data.evidence, student=student, case_id=case.id
        ),
    )
    session.add(action)
    case.version += 1
    case.updated_at = now()
    session.add(case)
    await session.flush()
    await emit_all(
        session,
        [
            case_event(
                "action_recorded",
                case,
                student,
                action_id=str(action.id),
                kind=action.kind,
                occurred_at=at.isoformat(),
                actor=action.actor,
                actor_role=action.actor_role,
                action_outcome=action.outcome,
                evidence=[str(i) for i in action.evidence],
            )
        ],
    )
    # Acting on the case answers the caller's open tasks on it, but not a legal deadline (legal/service.py).
    await complete_tasks(
        session,
        Task.case_id == case.id,
        Task.role == principal.role.value,
        Task.kind != "legal_deadline",
        by=principal.username,
    )
    if data.kind is ActionKind.escalate:
        await lifecycle.escalate(
            session, case, student, trigger="action", on=on, actor=principal.username, note=None
        )
    elif (
        data.kind is ActionKind.persuasion
        and data.outcome == ActionOutcome.failed
        and case.level != Level.county
        and case.status in UNRETURNED_STATUSES
    ):
        await lifecycle.escalate(
            session,
            case,
            student,
            trigger="persuasion_failed",
            on=on,
            at=at,
            actor=lifecycle.SYSTEM,
            note="劝返未果，升级",
        )
    elif data.kind is ActionKind.close:
        await lifecycle.close(session, case, student, outcome=CloseOutcome(data.outcome), on=on)
        await check_returns(session, [(case, student)], today=today_local())
    return case, student, False
