"""Re-payment (补付): failed lines whose payee was corrected since, paid again in a follow-up batch.

A re-payment line copies the failed line (student, semester, amount and every fact it was paid on),
names it in `repays_id`, and snapshots the corrected payee. It goes through the same approval chain;
its payment is an ordinary `edu.subsidy.disbursement.paid`. A failed line is re-paid by at most one
live line (unique index); cancelling the re-payment batch frees it again.
"""

from sqlalchemy import cast, delete, func, literal, null, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.errors import Conflict
from services.subsidy.batches.generation import refresh_totals
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.payees.models import Payee
from services.subsidy.payments.lines import payee_snapshot

T = Disbursement.__table__
D = T.c
P = Payee.__table__.c
REPAY_INDEX = text("status <> 'cancelled' AND repays_id IS NOT NULL")


def _failed_here(batch: Batch, failed) -> list:
    live_repay = select(D.id).where(D.repays_id == failed.c.id, D.status != "cancelled")
    return [
        failed.c.status == "failed",
        failed.c.school_code == batch.school_code,
        failed.c.policy_code == batch.policy_code,
        failed.c.semester == batch.semester,
        ~live_repay.exists(),
    ]


async def gather(session: AsyncSession, batch: Batch) -> None:
    """(Re)fill a re-payment batch with the failed lines of its school, policy and semester that are ready.

    Ready: the payee was corrected after the line failed. 409 when no line is ready.
    """
    await session.execute(delete(T).where(D.batch_id == batch.id, D.status.in_(("draft", "rejected"))))
    failed = T.alias("failed")
    overrides = {
        "id": func.gen_random_uuid(),
        "batch_id": literal(batch.id),
        "kind": literal("repay"),
        "status": literal("draft"),
        "repays_id": failed.c.id,
        "reason": func.left(literal("补付：原发放支付失败（") + failed.c.failure_reason + "）", 500),
        "version": literal(1),
        "created_at": func.now(),
        "updated_at": func.now(),
        **payee_snapshot(),
    }
    for name in ("paid_on", "failure_reason", "failed_at", "removed_reason"):
        overrides[name] = cast(null(), T.c[name].type)
    columns = [c.name for c in T.columns]
    source = (
        select(*[overrides.get(name, failed.c[name]) for name in columns])
        .select_from(failed.join(Payee.__table__, P.student_id == failed.c.student_id))
        .where(*_failed_here(batch, failed), P.updated_at > failed.c.failed_at)
    )
    stmt = insert(T).from_select(columns, source)
    # A concurrent re-payment batch may take a line first: the unique index on repays_id decides.
    stmt = stmt.on_conflict_do_nothing(index_elements=["repays_id"], index_where=REPAY_INDEX)
    await session.execute(stmt)
    await refresh_totals(session, batch)
    if batch.line_count == 0:
        waiting = (
            await session.execute(
                select(func.count()).select_from(failed).where(*_failed_here(batch, failed))
            )
        ).scalar_one()
        raise Conflict(
            "No failed line of this school, policy and semester is ready for re-payment"
            + (f": {waiting} await a corrected payee (PATCH /payees/{{id}})" if waiting else "")
        )
