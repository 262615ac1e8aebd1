"""Making a transfer request and telling both sides (the outbox); decisions are in `service`."""

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal
from services.kit.errors import Conflict
from services.registry.db import now
from services.registry.events import emit
from services.registry.schools.models import School
from services.registry.students.models import Student
from services.registry.students.schemas import EnrollmentChangeCreate
from services.registry.transfers.models import PENDING, TransferRequest


def transfer_data(transfer: TransferRequest) -> dict:
    return {
        "id": str(transfer.id),
        "student_id": str(transfer.student_id),
        "kind": transfer.kind,
        "effective_date": transfer.effective_date.isoformat(),
        "status": transfer.status,
        "from_school_code": transfer.from_school_code,
        "from_area_code": transfer.from_area_code,
        "to_school_code": transfer.to_school_code,
        "to_area_code": transfer.to_area_code,
        "requested_by": transfer.requested_by,
        "decided_by": transfer.decided_by,
        "decision_note": transfer.decision_note,
        "change_id": str(transfer.change_id) if transfer.change_id else None,
    }


async def emit_transfer(session: AsyncSession, transfer: TransferRequest, what: str) -> None:
    await emit(
        session,
        f"edu.registry.transfer.{what}",
        subject=str(transfer.id),
        area_code=transfer.to_area_code,
        school_code=transfer.to_school_code,
        version=transfer.version,
        data=transfer_data(transfer),
    )


async def request_transfer(
    session: AsyncSession, principal: Principal, *, student: Student, data: EnrollmentChangeCreate,
    school: School,
) -> TransferRequest:
    """Ask the county of `school` to take the student; one request may wait per student."""
    waiting = await session.execute(
        select(TransferRequest.id).where(TransferRequest.student_id == student.id,
                                         TransferRequest.status == PENDING))
    if waiting.first() is not None:
        raise Conflict("A transfer of this student already waits for the receiving county; "
                       "cancel it first (POST /api/v1/transfers/{id}/cancel)")
    transfer = TransferRequest(
        student_id=student.id,
        kind=data.kind,
        effective_date=data.effective_date,
        from_school_code=student.school_code,
        from_area_code=student.area_code or principal.area_code,
        to_school_code=school.code,
        to_area_code=school.area_code,
        details=data.details.model_dump(mode="json", exclude_none=True),
        reason=data.reason,
        requested_by=principal.username,
        updated_at=now(),
    )
    session.add(transfer)
    await session.flush()  # the sending side is the caller's: the row passes the caller's wall
    await emit_transfer(session, transfer, "requested")
    return transfer
