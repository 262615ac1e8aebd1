"""Public notice (公示): the masked list, objections, and their resolution before the county approves."""

import uuid
from datetime import date

from sqlalchemy import exists, select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound
from services.kit.rls import within
from services.subsidy.batches import generation
from services.subsidy.batches.models import Batch, Disbursement, Exclusion, Objection
from services.subsidy.batches.service import lock, record
from services.subsidy.db import now
from services.subsidy.domain import REASONS, mask_name
from services.subsidy.events import emit
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import SchoolFact

RAISERS = (Role.school, Role.village, Role.township, Role.county, Role.admin)
RESOLVERS = (Role.township, Role.county, Role.admin)
PUBLISHED = ("submitted", "approved", "paid", "rejected")


def published_to(principal: Principal):
    """Batches whose notice the caller sees: its school's, its area's, or (village) with its children."""
    if principal.role is Role.school:
        return Batch.school_code == principal.school_code
    if principal.role is Role.village:
        return exists().where(
            Disbursement.batch_id == Batch.id,
            Disbursement.status != "cancelled",
            within(Disbursement.village_code, principal.area_code),
        )
    return within(Batch.area_code, principal.area_code)


async def published_batch_or_404(session: AsyncSession, principal: Principal, batch_id: uuid.UUID) -> Batch:
    stmt = select(Batch).where(Batch.id == batch_id, Batch.status.in_(PUBLISHED), published_to(principal))
    batch = (await session.execute(stmt)).scalar_one_or_none()
    if batch is None:
        raise NotFound("No such public notice")
    return batch


def is_active(batch: Batch, today: date | None = None) -> bool:
    today = today or calendar.today()
    return batch.status == "submitted" and batch.publicity_end is not None and today < batch.publicity_end


async def notice(session: AsyncSession, principal: Principal, batch: Batch) -> dict:
    """Return the batch's public list: names and ID numbers masked; a village sees its own children."""
    stmt = select(Disbursement).where(Disbursement.batch_id == batch.id, Disbursement.status != "cancelled")
    if principal.role is Role.village:
        stmt = stmt.where(within(Disbursement.village_code, principal.area_code))
    lines = (
        (await session.execute(stmt.order_by(Disbursement.grade, Disbursement.student_name))).scalars().all()
    )
    policy = await session.get(Policy, batch.policy_id)
    school = await session.get(SchoolFact, batch.school_code)
    return {
        "batch_id": batch.id,
        "school_code": batch.school_code,
        "school_name": school.name if school else None,
        "semester": batch.semester,
        "policy_code": batch.policy_code,
        "policy_name": policy.name if policy else batch.policy_code,
        "status": batch.status,
        "publicity_start": batch.publicity_start,
        "publicity_end": batch.publicity_end,
        "active": is_active(batch),
        "total_fen": sum(line.amount_fen for line in lines),
        "lines": [
            {
                "line_id": line.id,
                "student_id": line.student_id,
                "name": mask_name(line.student_name),
                "id_number_masked": line.id_number_masked,
                "stage": line.stage,
                "grade": line.grade,
                "village_code": line.village_code,
                "amount_fen": line.amount_fen,
            }
            for line in lines
        ],
    }


async def raise_objection(
    session: AsyncSession, principal: Principal, *, batch: Batch, student_id: uuid.UUID, reason: str
) -> Objection:
    """Record an objection to one line of a batch under public notice."""
    if principal.role not in RAISERS:
        raise Forbidden("You may not record objections")
    batch = await lock(session, batch)
    if batch.status != "submitted":
        raise Conflict(f"A {batch.status} batch is not open to objections")
    stmt = select(Disbursement).where(
        Disbursement.batch_id == batch.id,
        Disbursement.student_id == student_id,
        Disbursement.status != "cancelled",
    )
    if principal.role is Role.village:
        stmt = stmt.where(within(Disbursement.village_code, principal.area_code))
    line = (await session.execute(stmt)).scalar_one_or_none()
    if line is None:
        raise Invalid(["student_id"], "This student is not on the batch's list", code="not_listed")
    objection = Objection(
        batch_id=batch.id,
        line_id=line.id,
        student_id=student_id,
        reason=reason,
        raised_by=principal.username,
        raised_role=principal.role,
    )
    session.add(objection)
    await session.flush()
    await _emit(session, batch, objection, "raised", principal)
    return objection


async def resolve(
    session: AsyncSession,
    principal: Principal,
    *,
    batch: Batch,
    objection: Objection,
    outcome: str,
    note: str,
) -> Objection:
    """Uphold (the line is removed, with the reason) or dismiss an objection."""
    if principal.role not in RESOLVERS:
        raise Forbidden("Only township and county users resolve objections")
    batch = await lock(session, batch)
    if objection.status != "open":
        raise Conflict("The objection is already resolved")
    if batch.status not in ("submitted", "rejected", "draft"):
        raise Conflict(f"Objections to a {batch.status} batch can no longer be resolved")
    objection.status, objection.resolution = outcome, note
    objection.resolved_by, objection.resolved_at = principal.username, now()
    objection.version += 1
    session.add(objection)
    if outcome == "upheld":
        await _remove_line(session, batch, objection.student_id, note)
        await record(session, batch, principal, "line_removed", note=note)
    await session.flush()
    await _emit(session, batch, objection, "resolved", principal)
    return objection


async def _remove_line(session: AsyncSession, batch: Batch, student_id: uuid.UUID, note: str) -> None:
    d = Disbursement.__table__.c
    where = (d.batch_id == batch.id, d.student_id == student_id, d.status != "cancelled")
    line = (await session.execute(select(Disbursement).where(*where))).scalar_one_or_none()
    await generation.cancel_lines(session, *where, reason=note)
    if line is not None:
        stmt = insert(Exclusion.__table__).values(
            batch_id=batch.id,
            student_id=student_id,
            student_name=line.student_name,
            reason="objection",
            reason_text=f"{REASONS['objection']}：{note}",
        )
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["batch_id", "student_id"],
                set_={"reason": stmt.excluded.reason, "reason_text": stmt.excluded.reason_text},
            )
        )
    await generation.refresh_totals(session, batch)


async def _emit(session: AsyncSession, batch: Batch, objection: Objection, what: str, principal: Principal):
    await emit(
        session,
        f"edu.subsidy.objection.{what}",
        subject=str(objection.id),
        area_code=batch.area_code,
        school_code=batch.school_code,
        version=objection.version,
        data={
            "id": str(objection.id),
            "batch_id": str(batch.id),
            "line_id": str(objection.line_id),
            "student_id": str(objection.student_id),
            "status": objection.status,
            "reason": objection.reason,
            "resolution": objection.resolution,
            "actor": principal.username,
        },
    )
