"""Batches: generate (at most one per school, semester and policy), regenerate, cancel, render."""

import uuid

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts import calendar
from services.kit.auth import Principal, Role
from services.kit.barrier import AsOf
from services.kit.errors import Conflict, Forbidden, Invalid, NotFound, StaleVersion
from services.kit.rls import within
from services.subsidy.batches import generation
from services.subsidy.batches.models import Batch, BatchStep, Disbursement
from services.subsidy.batches.schemas import (
    BatchCreate,
)
from services.subsidy.db import now
from services.subsidy.domain import parse_semester, semester_start
from services.subsidy.events import emit
from services.subsidy.policies.models import Policy
from services.subsidy.policies.service import applies_in, policy_for_semester
from services.subsidy.policies.service import visible_to as policy_visible_to
from services.subsidy.projection.models import SchoolFact

MAKERS = (Role.admin, Role.county, Role.township, Role.school)
READERS = MAKERS
D = Disbursement.__table__.c


def visible_to(principal: Principal):
    """Batches the caller may see: its own school's, or those of schools in its area."""
    if principal.role is Role.school:
        return Batch.school_code == principal.school_code
    return within(Batch.area_code, principal.area_code)


def lines_visible_to(principal: Principal):
    if principal.role is Role.school:
        return Disbursement.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Disbursement.village_code, principal.area_code)
    return within(Disbursement.area_code, principal.area_code)


def require_reader(principal: Principal) -> None:
    if principal.role not in READERS:
        raise Forbidden("Village users see batches through their public notice (公示)")


async def get_batch_or_404(
    session: AsyncSession, principal: Principal, batch_id: uuid.UUID, *, lock: bool = False
) -> Batch:
    require_reader(principal)
    stmt = select(Batch).where(Batch.id == batch_id, visible_to(principal))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    batch = (await session.execute(stmt)).scalar_one_or_none()
    if batch is None:
        raise NotFound("No such batch")
    return batch


async def lock(session: AsyncSession, batch: Batch) -> Batch:
    """Lock the batch row for the rest of the transaction (and reload it)."""
    stmt = (
        select(Batch).where(Batch.id == batch.id).with_for_update().execution_options(populate_existing=True)
    )
    return (await session.execute(stmt)).scalar_one()


def check_batch_version(batch: Batch, version: int | None) -> None:
    if version is not None and version != batch.version:
        raise StaleVersion(batch.version)


async def school_for(session: AsyncSession, principal: Principal, code: str) -> SchoolFact:
    """Return a school the caller may make batches for (a school user: its own)."""
    school = await session.get(SchoolFact, code)
    mine = principal.school_code == code if principal.role is Role.school else None
    if school is None or mine is False or not school.area_code.startswith(principal.area_code):
        raise Invalid(["school_code"], f"Unknown school {code}", code="unknown_school")
    return school


async def _policy_for(session: AsyncSession, principal: Principal, data: BatchCreate, school: SchoolFact):
    parse_semester(data.semester)
    if semester_start(data.semester) > calendar.today():
        raise Invalid(["semester"], f"{data.semester} has not begun")
    visible = (
        await session.execute(
            select(Policy.id).where(Policy.code == data.policy_code, policy_visible_to(principal)).limit(1)
        )
    ).first()
    if visible is None:
        raise Invalid(["policy_code"], f"Unknown policy {data.policy_code}", code="unknown_policy")
    policy = await policy_for_semester(session, data.policy_code, data.semester)
    if policy is None:
        raise Invalid(["semester"], f"Policy {data.policy_code} has no rule in force in {data.semester}")
    in_force = (
        await session.execute(select(Policy.id).where(Policy.id == policy.id, applies_in(school.area_code)))
    ).first()
    if in_force is None:
        raise Invalid(["policy_code"], f"Policy {data.policy_code} is not in force at school {school.code}")
    # A special school teaches compulsory grades (generation._stage_ok): primary and junior policies apply.
    offered = set(school.stages) | ({"primary", "junior"} if "special" in school.stages else set())
    if not set(policy.stages) & offered:
        raise Invalid(["policy_code"], f"School {school.code} offers none of the policy's stages")
    return policy


async def create_batch(
    session: AsyncSession, principal: Principal, *, data: BatchCreate, as_of: AsOf
) -> Batch:
    """Generate a batch from the students enrolled now; a second live regular one is a conflict."""
    if principal.role not in MAKERS:
        raise Forbidden("Only school, township, county and admin users make batches")
    school = await school_for(session, principal, data.school_code)
    policy = await _policy_for(session, principal, data, school)
    batch = Batch(
        kind=data.kind.value,
        school_code=school.code,
        area_code=school.area_code,
        semester=data.semester,
        policy_code=policy.code,
        policy_id=policy.id,
        generated_by=principal.username,
        as_of=as_of.public(),
    )
    session.add(batch)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict(
            f"School {data.school_code} already has a {data.policy_code} batch for {data.semester}"
        ) from exc
    await _generate(session, batch, policy)
    if batch.kind == "back_pay" and batch.line_count == 0:
        raise Conflict("No back-pay proposals are pending for this school, semester and policy")
    await record(session, batch, principal, "generated")
    return batch


async def _generate(session: AsyncSession, batch: Batch, policy: Policy) -> None:
    """Fill the batch's lines (a re-payment batch: its failed lines now ready) and snapshot the payees."""
    from services.subsidy.payments import lines, repay

    if batch.kind == "repay":
        await repay.gather(session, batch)
    else:
        await generation.generate(session, batch, policy)
    await lines.snapshot_payees(session, batch)


async def regenerate(
    session: AsyncSession, principal: Principal, *, batch: Batch, version: int | None, as_of: AsOf
) -> Batch:
    """Generate a draft (or rejected) batch again from the students as they are now."""
    if principal.role not in MAKERS:
        raise Forbidden("Only school, township, county and admin users regenerate batches")
    check_batch_version(batch, version)
    if batch.status not in ("draft", "rejected"):
        raise Conflict(f"A {batch.status} batch cannot be regenerated")
    policy = await policy_for_semester(session, batch.policy_code, batch.semester)
    if policy is None:
        raise Conflict(f"Policy {batch.policy_code} no longer applies in {batch.semester}")
    batch.policy_id, batch.status, batch.generated_at = policy.id, "draft", now()
    batch.generated_by, batch.reject_reason, batch.as_of = principal.username, None, as_of.public()
    await _generate(session, batch, policy)
    await record(session, batch, principal, "regenerated")
    return batch


async def cancel(
    session: AsyncSession, principal: Principal, *, batch: Batch, reason: str, version: int | None
):
    """Cancel a draft or rejected batch; its lines are freed (back-pay lines return to proposals)."""
    if principal.role not in (Role.school, Role.county, Role.admin):
        raise Forbidden("Only the school or the county cancels a batch")
    check_batch_version(batch, version)
    if batch.status not in ("draft", "rejected"):
        raise Conflict(f"A {batch.status} batch cannot be cancelled")
    live = (D.batch_id == batch.id, D.status != "cancelled")
    table = Disbursement.__table__
    if batch.kind == "back_pay":
        await session.execute(update(table).where(*live).values(batch_id=None, status="proposed"))
    else:
        await generation.cancel_lines(session, *live, reason=reason)
    batch.status = "cancelled"
    await generation.refresh_totals(session, batch)
    await record(session, batch, principal, "cancelled", note=reason)
    return batch


async def set_line_status(session: AsyncSession, batch: Batch, status: str, **extra) -> None:
    """Make the batch's live lines follow its status."""
    await session.execute(
        update(Disbursement.__table__)
        .where(D.batch_id == batch.id, D.status != "cancelled")
        .values(status=status, version=D.version + 1, updated_at=func.now(), **extra)
    )


async def record(
    session: AsyncSession,
    batch: Batch,
    principal: Principal,
    action: str,
    *,
    level: str | None = None,
    note: str | None = None,
) -> None:
    """Bump the batch, keep the step (who, when, why) and emit the batch event."""
    if action != "generated":
        batch.version += 1
    batch.updated_at = now()
    session.add(batch)
    session.add(
        BatchStep(
            batch_id=batch.id,
            action=action,
            level=level,
            actor=principal.username,
            role=principal.role,
            note=note,
        )
    )
    await session.flush()
    policy = await session.get(Policy, batch.policy_id)
    data = {
        "id": str(batch.id),
        **{k: getattr(batch, k) for k in ("kind", "school_code", "area_code", "semester", "policy_code")},
        **{k: getattr(batch, k) for k in ("status", "awaiting", "reference")},
        "policy_kind": policy.kind if policy else None,
        "level": level,
        "lines": batch.line_count,
        "total_fen": batch.total_fen,
        "actor": principal.username,
        "note": note,
        "as_of": batch.as_of,
        **{
            k: getattr(batch, k).isoformat() if getattr(batch, k) else None
            for k in ("publicity_start", "publicity_end", "paid_on")
        },
    }
    await emit(
        session,
        f"edu.subsidy.batch.{action}",
        subject=str(batch.id),
        area_code=batch.area_code,
        school_code=batch.school_code,
        version=batch.version,
        data=data,
    )
