"""Transfer requests: who sees them, and the receiving side's decision (accept, reject) or the
sending side's withdrawal (cancel)."""

import uuid
from typing import Literal

from sqlalchemy import or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.rls import as_system, within
from services.registry.db import now
from services.registry.schools.models import School
from services.registry.students import enrollment
from services.registry.students.models import Student
from services.registry.students.schemas import EnrollmentChangeCreate
from services.registry.transfers.models import ACCEPTED, CANCELLED, PENDING, REJECTED, TransferRequest
from services.registry.transfers.requests import emit_transfer
from services.registry.transfers.schemas import TransferPublic, TransferStudent

READERS = (Role.admin, Role.county, Role.township, Role.school)
DECIDERS = (Role.admin, Role.county, Role.school)
Direction = Literal["incoming", "outgoing"]


def _receiving(principal: Principal):
    if principal.role is Role.school:
        return TransferRequest.to_school_code == principal.school_code
    return within(TransferRequest.to_area_code, principal.area_code)


def _sending(principal: Principal):
    if principal.role is Role.school:
        return TransferRequest.from_school_code == principal.school_code
    return within(TransferRequest.from_area_code, principal.area_code)


def visible_to(principal: Principal, direction: Direction | None = None):
    """Requests the caller sees: those into its area or school (incoming), out of it (outgoing)."""
    if principal.role not in READERS:
        return TransferRequest.id.is_(None)  # never: village and platform callers see none
    if direction == "incoming":
        return _receiving(principal)
    if direction == "outgoing":
        return _sending(principal)
    return or_(_receiving(principal), _sending(principal))


def is_receiver(principal: Principal, transfer: TransferRequest) -> bool:
    if principal.role is Role.school:
        return transfer.to_school_code == principal.school_code
    return principal.role in DECIDERS and principal.covers_area(transfer.to_area_code)


def is_sender(principal: Principal, transfer: TransferRequest) -> bool:
    if principal.role is Role.school:
        return transfer.from_school_code == principal.school_code
    return principal.role in DECIDERS and principal.covers_area(transfer.from_area_code)


async def get_or_404(
    session: AsyncSession, principal: Principal, transfer_id: uuid.UUID, *, lock: bool = False
) -> TransferRequest:
    stmt = select(TransferRequest).where(TransferRequest.id == transfer_id, visible_to(principal))
    found = (await session.execute(stmt.with_for_update() if lock else stmt)).scalar_one_or_none()
    if found is None:
        raise NotFound("No such transfer request")
    return found


async def to_public(session: AsyncSession, transfers: list[TransferRequest]) -> list[TransferPublic]:
    """Render requests with who is moving (the receiving side cannot see the student's row yet)."""
    ids = {t.student_id for t in transfers}
    async with as_system(session):  # the child named in a request both sides see (kit.rls)
        rows = (await session.execute(select(Student).where(Student.id.in_(ids)))).scalars() if ids else []
        students = {s.id: s for s in rows}
    out = []
    for t in transfers:
        s = students.get(t.student_id)
        who = TransferStudent.model_validate(s) if s is not None else None
        out.append(TransferPublic.model_validate(t).model_copy(update={"student": who}))
    return out


def _decided(transfer: TransferRequest, principal: Principal, status: str, note: str | None) -> None:
    if transfer.status != PENDING:
        raise Conflict(f"The transfer request is already {transfer.status}")
    transfer.status, transfer.decided_by, transfer.decided_at = status, principal.username, now()
    transfer.decision_note = note
    transfer.version += 1
    transfer.updated_at = now()


async def accept(
    session: AsyncSession, principal: Principal, *, transfer: TransferRequest, note: str | None
) -> TransferRequest:
    """Take the student into the receiving school: the enrollment change happens now."""
    if not is_receiver(principal, transfer):
        raise Forbidden("Only the receiving county or school accepts a transfer")
    if transfer.status != PENDING:
        raise Conflict(f"The transfer request is already {transfer.status}")
    # The student is still the sending county's: read and move it across scopes on purpose (kit.rls).
    async with as_system(session):
        student = (await session.execute(
            select(Student).where(Student.id == transfer.student_id).with_for_update())).scalar_one()
        school = await session.get(School, transfer.to_school_code)
    if student.school_code != transfer.from_school_code:
        raise Conflict("The student's enrollment changed since the request; the sending side asks again")
    data = EnrollmentChangeCreate.model_validate({
        "kind": transfer.kind, "effective_date": transfer.effective_date, "reason": transfer.reason,
        "details": transfer.details})
    await enrollment.check_change(session, principal, student=student, data=data)  # still possible?
    change = await enrollment.apply_change(
        session, actor=transfer.requested_by, student=student, data=data, school=school,
        extra={"transfer_request_id": str(transfer.id), "accepted_by": principal.username})
    _decided(transfer, principal, ACCEPTED, note)
    transfer.change_id = change.id
    await session.flush()
    await emit_transfer(session, transfer, "accepted")
    return transfer


async def reject(
    session: AsyncSession, principal: Principal, *, transfer: TransferRequest, note: str | None
) -> TransferRequest:
    """Refuse the student: it stays where it is, the sending side sees why."""
    if not is_receiver(principal, transfer):
        raise Forbidden("Only the receiving county or school rejects a transfer")
    _decided(transfer, principal, REJECTED, note)
    await session.flush()
    await emit_transfer(session, transfer, "rejected")
    return transfer


async def cancel(
    session: AsyncSession, principal: Principal, *, transfer: TransferRequest, note: str | None
) -> TransferRequest:
    """Withdraw a request the receiving side has not decided yet."""
    if not is_sender(principal, transfer):
        raise Forbidden("Only the sending county or school withdraws a transfer request")
    _decided(transfer, principal, CANCELLED, note)
    await session.flush()
    await emit_transfer(session, transfer, "cancelled")
    return transfer
