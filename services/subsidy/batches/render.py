"""Render batches: summaries for lists (three queries a page), the full batch with lines for one."""

import uuid

from fastapi import Response
from sqlalchemy import func, select, text
from sqlmodel.ext.asyncio.session import AsyncSession

from services.subsidy.batches.models import Batch, BatchStep, Exclusion, Objection
from services.subsidy.batches.schemas import BatchPublic, BatchSummary, ExclusionOut, StepOut
from services.subsidy.domain import deadline_of
from services.subsidy.payments.lines import totals as payment_totals
from services.subsidy.policies.models import Policy
from services.subsidy.policies.rules import headline_amount

X = Exclusion.__table__.c


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


# A batch's lines as JSON, built by PostgreSQL in LineOut's field order: a batch is answered with its
# hundreds of lines at every step (generate, submit, approve, pay), and building them row by row in
# Python was most of each step's time.
LINES_JSON = text(
    """
SELECT coalesce(json_agg(json_build_object(
        'id', id, 'student_id', student_id, 'name', student_name, 'stage', stage, 'grade', grade,
        'boarding', boarding, 'categories', categories, 'village_code', village_code,
        'household_id', household_id, 'amount_fen', amount_fen, 'item', item, 'one_off', one_off,
        'shares', shares, 'hardship_level', hardship_level, 'status', status,
        'failure_reason', failure_reason, 'repays_id', repays_id, 'payee_masked', payee_masked)
        ORDER BY grade, student_name, id), '[]')::text AS lines,
    (SELECT coalesce(json_object_agg(k, fen), '{}')::text FROM (
        SELECT s.key AS k, sum(s.value::bigint) AS fen
        FROM subsidy.disbursement d, jsonb_each_text(d.shares) s
        WHERE d.batch_id = :batch_id AND d.status <> 'cancelled'
        GROUP BY s.key) t) AS shares
FROM subsidy.disbursement
WHERE batch_id = :batch_id AND status <> 'cancelled'
"""
)
EMPTY_LINES = b'"lines":[]'


async def to_response(session: AsyncSession, batch: Batch, *, status_code: int = 200) -> Response:
    """Render a batch as a BatchPublic (its lines, exclusions with reasons, history, payments), with
    the lines and their funding shares summed in SQL."""
    (head,) = await summaries(session, [batch])
    lines, shares = (await session.execute(LINES_JSON, {"batch_id": batch.id})).one()
    excluded = await session.execute(
        select(Exclusion.__table__).where(X.batch_id == batch.id).order_by(X.reason, X.student_id)
    )
    steps = (
        await session.execute(select(BatchStep).where(BatchStep.batch_id == batch.id).order_by(BatchStep.at))
    ).scalars()
    public = BatchPublic(
        **head.model_dump(),
        lines=[],
        shares_fen={},
        excluded=[exclusion_out(row._mapping) for row in excluded],
        history=[StepOut.model_validate(step) for step in steps],
        payments=await payment_totals(session, batch),
    )
    body = public.model_dump_json(by_alias=True).encode()
    # The placeholders come before any free text of the head could: each is replaced once.
    body = body.replace(b'"shares_fen":{}', b'"shares_fen":' + shares.encode(), 1)
    body = body.replace(EMPTY_LINES, b'"lines":' + lines.encode(), 1)
    return Response(body, status_code=status_code, media_type="application/json")


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
