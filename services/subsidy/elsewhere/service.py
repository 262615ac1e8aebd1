"""Aid received elsewhere (区域外资助): recorded here, it covers the child and blocks a second payment."""

import uuid
from datetime import date

from sqlalchemy import and_, func, not_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester, today
from services.contracts.vocabulary import LETTER_STATUS_NAMES, LetterStatus
from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.subsidy.db import now
from services.subsidy.elsewhere.models import AidElsewhere
from services.subsidy.elsewhere.schemas import AidElsewhereCreate, AidElsewhereUpdate, Letter
from services.subsidy.events import emit
from services.subsidy.notices.service import student_or_404

RECORDERS = (Role.admin, Role.county, Role.school)


def visible_to(principal: Principal):
    """Records of the children the caller sees (the same rule as the students')."""
    if principal.role is Role.school:
        return AidElsewhere.school_code == principal.school_code
    if principal.role is Role.village:
        return within(AidElsewhere.village_code, principal.area_code)
    return within(AidElsewhere.area_code, principal.area_code)


async def record(session: AsyncSession, principal: Principal, *, data: AidElsewhereCreate) -> AidElsewhere:
    """Record aid another county or province paid for one of the caller's children."""
    if principal.role not in RECORDERS:
        raise Forbidden("Only county and school users record aid received elsewhere")
    student = await student_or_404(session, principal, data.student_id)
    if Semester.parse(data.semester) > Semester.of(today()):
        raise Invalid(["semester"], "semester must not be in the future")
    aid = AidElsewhere(
        student_id=student.student_id,
        student_name=student.name,
        household_id=student.household_id,
        area_code=student.area_code or principal.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
        stage=student.stage,
        payer_name=data.payer.name,
        payer_code=data.payer.code,
        policy_kind=data.policy_kind.value,
        semester=data.semester,
        amount_fen=data.amount_fen,
        evidence=data.evidence,
        recorded_by=principal.username,
    )
    _set_letter(aid, data.letter)
    session.add(aid)
    await session.flush()
    await _emit(session, aid, "recorded")
    return aid


async def update(
    session: AsyncSession,
    principal: Principal,
    *,
    aid: AidElsewhere,
    data: AidElsewhereUpdate,
    if_match: str | None,
) -> AidElsewhere:
    """Record the follow-up letter's progress (sent, answered) or more evidence."""
    if principal.role not in RECORDERS:
        raise Forbidden("Only county and school users change records of aid received elsewhere")
    check_version(aid.version, data.version, if_match)
    if "letter" in data.model_fields_set:
        _set_letter(aid, data.letter)
    if data.evidence is not None:
        aid.evidence = data.evidence
    aid.version += 1
    aid.updated_at = now()
    session.add(aid)
    await session.flush()
    await _emit(session, aid, "updated")
    return aid


async def get_or_404(session: AsyncSession, principal: Principal, aid_id: uuid.UUID) -> AidElsewhere:
    stmt = select(AidElsewhere).where(AidElsewhere.id == aid_id, visible_to(principal))
    aid = (await session.execute(stmt)).scalar_one_or_none()
    if aid is None:
        raise NotFound("No such record of aid received elsewhere")
    return aid


def letter_is(status: LetterStatus) -> list:
    """SQL conditions for a record's letter being in a state (the twin of `letter_status`)."""
    a, on = AidElsewhere, today()
    if status is LetterStatus.answered:
        return [a.letter_answered_on.is_not(None)]
    if status is LetterStatus.not_sent:
        return [a.letter_answered_on.is_(None), a.letter_sent_on.is_(None)]
    overdue = and_(a.letter_due_on.is_not(None), a.letter_due_on < on)
    unanswered = [a.letter_answered_on.is_(None), a.letter_sent_on.is_not(None)]
    return [*unanswered, overdue if status is LetterStatus.overdue else not_(func.coalesce(overdue, False))]


def _set_letter(aid: AidElsewhere, letter: Letter | None) -> None:
    letter = letter or Letter()
    aid.letter_sent_on, aid.letter_due_on = letter.sent_on, letter.due_on
    aid.letter_answered_on, aid.letter_note = letter.answered_on, letter.note


def letter_status(aid: AidElsewhere, on: date | None = None) -> LetterStatus:
    """Return the letter's state: answered, overdue (sent, unanswered past its due date), sent, not sent."""
    if aid.letter_answered_on:
        return LetterStatus.answered
    if aid.letter_sent_on is None:
        return LetterStatus.not_sent
    if aid.letter_due_on and aid.letter_due_on < (on or today()):
        return LetterStatus.overdue
    return LetterStatus.sent


PUBLIC_FIELDS = ("id", "student_id", "student_name", "school_code", "area_code", "policy_kind", "semester",
                 "amount_fen", "evidence", "recorded_by", "version", "created_at", "updated_at")  # fmt: skip


def to_public(aid: AidElsewhere) -> dict:
    status = letter_status(aid)
    return {
        **{k: getattr(aid, k) for k in PUBLIC_FIELDS},
        "payer": {"name": aid.payer_name, "code": aid.payer_code},
        "letter": {
            "status": status,
            "status_text": LETTER_STATUS_NAMES[status],
            "sent_on": aid.letter_sent_on,
            "due_on": aid.letter_due_on,
            "answered_on": aid.letter_answered_on,
            "note": aid.letter_note,
        },
    }


async def _emit(session: AsyncSession, aid: AidElsewhere, what: str) -> None:
    iso = lambda d: d.isoformat() if d else None  # noqa: E731
    data = {
        "id": str(aid.id), "student_id": str(aid.student_id),
        "household_id": str(aid.household_id) if aid.household_id else None,
        "area_code": aid.area_code, "school_code": aid.school_code, "village_code": aid.village_code,
        "stage": aid.stage, "payer_name": aid.payer_name, "payer_code": aid.payer_code,
        "policy_kind": aid.policy_kind, "semester": aid.semester, "amount_fen": aid.amount_fen,
        "letter_status": str(letter_status(aid)), "letter_sent_on": iso(aid.letter_sent_on),
        "letter_due_on": iso(aid.letter_due_on), "letter_answered_on": iso(aid.letter_answered_on),
    }  # fmt: skip
    await emit(
        session,
        f"edu.subsidy.aid_elsewhere.{what}",
        subject=str(aid.id),
        area_code=aid.area_code,
        school_code=aid.school_code,
        version=aid.version,
        data=data,
    )
