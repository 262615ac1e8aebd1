"""A line's payee snapshot (what is sent to the bank) and a batch's paid / failed / re-paid totals."""

from sqlalchemy import and_, func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.rls import as_system
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.payees.models import Payee
from services.subsidy.payments.schemas import PaymentTotals

D = Disbursement.__table__.c
P = Payee.__table__.c


def payee_snapshot() -> dict:
    """Line columns taken from the payee (the account stays encrypted; the mask is for reads)."""
    return {
        "payee_id": P.id,
        "payee_version": P.version,
        "payee_name": P.guardian_name,
        "payee_masked": P.account_masked,
        "payee_account_encrypted": P.account_encrypted,
        "payee_account_hash": P.account_hash,
        "payee_bank_name": P.bank_name,
    }


async def snapshot_payees(session: AsyncSession, batch: Batch, *, only_missing: bool = False) -> None:
    """Copy each student's current payee onto the batch's live lines (at generation and submission).

    The payee of a student in the caller's batch is read across scopes on purpose (kit.rls): one
    recorded while the child was at another school is still the child's payee.
    """
    where = [D.batch_id == batch.id, D.status != "cancelled", P.student_id == D.student_id]
    if only_missing:
        where.append(D.payee_id.is_(None))
    async with as_system(session):
        await session.execute(update(Disbursement.__table__).where(*where).values(**payee_snapshot()))


async def totals(session: AsyncSession, batch: Batch) -> PaymentTotals:
    """Count the batch's paid, failed and re-paid lines (exact integer fen)."""
    repay = Disbursement.__table__.alias("repay")
    row = (
        await session.execute(
            select(
                func.count().filter(D.status == "paid"),
                func.coalesce(func.sum(D.amount_fen).filter(D.status == "paid"), 0),
                func.count().filter(D.status == "failed"),
                func.coalesce(func.sum(D.amount_fen).filter(D.status == "failed"), 0),
                func.count().filter(repay.c.status == "paid"),
                func.coalesce(func.sum(repay.c.amount_fen).filter(repay.c.status == "paid"), 0),
                func.count().filter(repay.c.status.not_in(("paid", "failed"))),
            )
            .select_from(
                Disbursement.__table__.outerjoin(
                    repay, and_(repay.c.repays_id == D.id, repay.c.status != "cancelled")
                )
            )
            .where(D.batch_id == batch.id, D.status != "cancelled")
        )
    ).one()
    keys = ("paid_count", "paid_fen", "failed_count", "failed_fen", "repaid_count", "repaid_fen",
            "repay_pending_count")  # fmt: skip
    return PaymentTotals(**{k: int(v) for k, v in zip(keys, row, strict=True)})
