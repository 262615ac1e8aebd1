"""Render batches: summaries for lists (three queries a page), the full batch with lines for one."""

import uuid

from sqlalchemy import func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.subsidy.batches.models import Batch, BatchStep, Disbursement, Exclusion, Objection
from services.subsidy.batches.schemas import BatchPublic, BatchSummary, ExclusionOut, LineOut, StepOut
from services.subsidy.domain import deadline_of
from services.subsidy.payments.lines import totals as payment_totals
from services.subsidy.policies.models import Policy
from services.subsidy.policies.rules import headline_amount

D = Disbursement.__table__.c
X = Exclusion.__table__.c
LINE_COLUMNS = [D.id, D.student_id, D.student_name.label("name"), D.stage, D.grade, D.boarding,
                D.categories, D.village_code, D.household_id, D.amount_fen, D.item, D.one_off, D.shares,
                D.hardship_level, D.status,
                D.failure_reason, D.repays_id, D.payee_masked]  # fmt: skip


async def summaries(session: AsyncSession, batches: list[Batch]) -> list[BatchSummary]:
    """Render batches with their policy revision and open objections."""
    ids = [b.id for b in batches]
    policies = {
        p.id: p
        for p in (
            await session.execute(select(Policy).where(Policy.id.in_({b.policy_id for b in batches})))
        ).scalars()
    }
    open_counts: dict[uuid.UUID, int] = dict(
        (
            await session.execute(
                select(Objection.batch_id, func.count())
                .where(Objection.batch_id.in_(ids), Objection.status == "open")
                .group_by(Objection.batch_id)
            )
        ).all()
    )
    out = []
    for batch in batches:
        policy = policies[batch.policy_id]
        out.append(
            BatchSummary.model_validate(
                {
                    **batch.model_dump(),
                    "policy_revision": policy.revision,
                    "policy_name": policy.name,
                    "policy_kind": policy.kind,
                    "amount_fen": headline_amount(policy.rules, batch.semester)
                    if policy.rules
                    else policy.amount_fen,
                    "deadline": deadline_of(batch.semester),
                    "open_objections": open_counts.get(batch.id, 0),
                }
            )
        )
    return out


async def to_public(session: AsyncSession, batch: Batch) -> BatchPublic:
    """Render a batch with its lines, exclusions (with reasons) and history."""
    (head,) = await summaries(session, [batch])
    lines = await session.execute(
        select(*LINE_COLUMNS)
        .where(D.batch_id == batch.id, D.status != "cancelled")
        .order_by(D.grade, D.student_name, D.id)
    )
    excluded = await session.execute(
        select(Exclusion.__table__).where(X.batch_id == batch.id).order_by(X.reason, X.student_id)
    )
    steps = (
        await session.execute(select(BatchStep).where(BatchStep.batch_id == batch.id).order_by(BatchStep.at))
    ).scalars()
    line_outs = [LineOut.model_validate(row._mapping) for row in lines]
    shares: dict[str, int] = {}
    for line in line_outs:
        for key, fen in (line.shares or {}).items():
            shares[key] = shares.get(key, 0) + fen
    return BatchPublic(
        **head.model_dump(),
        lines=line_outs,
        shares_fen=shares,
        excluded=[exclusion_out(row._mapping) for row in excluded],
        history=[StepOut.model_validate(step) for step in steps],
        payments=await payment_totals(session, batch),
    )


def exclusion_out(e) -> ExclusionOut:
    where = None
    if e["other_status"]:
        where = {
            "batch_id": str(e["other_batch_id"]) if e["other_batch_id"] else None,
            "school_code": e["other_school_code"],
            "status": e["other_status"],
        }
    return ExclusionOut(
        student_id=e["student_id"],
        name=e["student_name"],
        reason=e["reason"],
        reason_text=e["reason_text"],
        where=where,
    )
