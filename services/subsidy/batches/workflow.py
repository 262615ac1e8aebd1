"""The approval workflow: draft → submitted (school) → township → county → paid; reject sends it back."""

from datetime import timedelta

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid
from services.kit.settings import get_settings
from services.subsidy.batches.models import Batch, BatchStep, Disbursement, Objection
from services.subsidy.batches.schemas import ApproveIn, PayIn, RejectIn, SubmitIn
from services.subsidy.batches.service import check_batch_version, record, set_line_status
from services.subsidy.events import emit_lines
from services.subsidy.payments.lines import snapshot_payees

BACKDATE_LIMIT = timedelta(days=30)
COUNTY = (Role.county, Role.admin)


def first_level(batch: Batch) -> str:
    """Schools under a township go to it first; schools directly under the county skip that step."""
    return "township" if len(batch.area_code) > 6 else "county"


async def submit(session: AsyncSession, principal: Principal, *, batch: Batch, data: SubmitIn) -> Batch:
    """Submit the school's batch; its list is published (公示) from `publicity_start`."""
    if principal.role is not Role.school:
        raise Forbidden("Only the school submits its batch")
    check_batch_version(batch, data.version)
    if batch.status not in ("draft", "rejected"):
        raise Conflict(f"A {batch.status} batch cannot be submitted")
    today = calendar.today()
    start = data.publicity_start or today
    if start > today or start < today - BACKDATE_LIMIT:
        raise Invalid(["publicity_start"], "publicity_start must be today or up to 30 days back")
    days = get_settings().publicity_days
    batch.publicity_start = start if days > 0 else None
    batch.publicity_end = start + timedelta(days=days) if days > 0 else None
    batch.status, batch.awaiting, batch.reject_reason = "submitted", first_level(batch), None
    await set_line_status(session, batch, "submitted")
    # The list posted and approved is what the bank is sent: payees as they are now (payments.lines).
    await snapshot_payees(session, batch)
    await record(session, batch, principal, "submitted", note=data.note)
    return batch


async def _county_may_approve(session: AsyncSession, batch: Batch) -> None:
    if batch.publicity_end is not None and calendar.today() < batch.publicity_end:
        raise Conflict(f"The public notice (公示) runs until {batch.publicity_end - timedelta(days=1)}")
    open_count = (
        await session.execute(
            select(func.count()).where(Objection.batch_id == batch.id, Objection.status == "open")
        )
    ).scalar_one()
    if open_count:
        raise Conflict(f"{open_count} objection(s) to the public notice are not resolved")


async def approve(session: AsyncSession, principal: Principal, *, batch: Batch, data: ApproveIn) -> Batch:
    """Approve at the caller's level: the township first, then the county."""
    if principal.role not in (Role.township, *COUNTY):
        raise Forbidden("Only township and county users approve batches")
    check_batch_version(batch, data.version)
    if batch.status != "submitted":
        raise Conflict(f"A {batch.status} batch cannot be approved")
    if batch.awaiting == "township":
        if principal.role is not Role.township:
            raise Conflict("The batch awaits the township's approval first")
        batch.awaiting = "county"
        await record(session, batch, principal, "approved", level="township", note=data.note)
        return batch
    if principal.role not in COUNTY:
        raise Conflict("The township has approved; the batch awaits the county")
    await _county_may_approve(session, batch)
    batch.status, batch.awaiting = "approved", None
    await set_line_status(session, batch, "approved")
    await record(session, batch, principal, "approved", level="county", note=data.note)
    return batch


async def reject(session: AsyncSession, principal: Principal, *, batch: Batch, data: RejectIn) -> Batch:
    """Send a batch back to the school with a reason (township while it is theirs; county until paid)."""
    if principal.role not in (Role.township, *COUNTY):
        raise Forbidden("Only township and county users reject batches")
    check_batch_version(batch, data.version)
    if principal.role is Role.township and not (batch.status == "submitted" and batch.awaiting == "township"):
        raise Conflict("The township may reject only a batch awaiting its approval")
    if batch.status not in ("submitted", "approved"):
        raise Conflict(f"A {batch.status} batch cannot be rejected")
    level = "township" if principal.role is Role.township else "county"
    batch.status, batch.awaiting, batch.reject_reason = "rejected", None, data.reason
    await set_line_status(session, batch, "rejected")
    await record(session, batch, principal, "rejected", level=level, note=data.reason)
    return batch


async def pay(session: AsyncSession, principal: Principal, *, batch: Batch, data: PayIn) -> Batch:
    """Record the payment of an approved batch; every line is paid (one event per line)."""
    if principal.role not in COUNTY:
        raise Forbidden("Only the county pays batches")
    check_batch_version(batch, data.version)
    if batch.status != "approved":
        raise Conflict(f"A {batch.status} batch cannot be paid")
    approved_at = (
        await session.execute(
            select(func.max(BatchStep.at)).where(
                BatchStep.batch_id == batch.id, BatchStep.action == "approved", BatchStep.level == "county"
            )
        )
    ).scalar_one()
    if data.paid_on > calendar.today() or (approved_at and data.paid_on < calendar.local_date(approved_at)):
        raise Invalid(["paid_on"], "paid_on must be between the county's approval and today")
    batch.status, batch.paid_on, batch.reference = "paid", data.paid_on, data.reference
    await set_line_status(session, batch, "paid", paid_on=data.paid_on)
    await emit_lines(
        session,
        "edu.subsidy.disbursement.paid",
        Disbursement.__table__.c.batch_id == batch.id,
        Disbursement.__table__.c.status == "paid",
    )
    await record(session, batch, principal, "paid", note=data.reference)
    return batch
