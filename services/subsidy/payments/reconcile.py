"""Reconciliation (对账): the bank's confirmation file against a batch; every mismatch is listed.

Each row is matched to one line: by `student_id` when the file has it, else by account (the keyed
hash of the payee account snapshotted on the line; among several lines of one account, the one of
the same amount), else by the payee's name (收款人) — then the account differs. Mismatches:
`amount_differs`, `account_differs`, `unknown_line` (a row no line of the batch matches),
`missing_from_file` (a paid line no row confirms), `failed_line_in_file` (the bank confirms a line
it had returned as failed).
"""

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.batches.service import record
from services.subsidy.payees import accounts
from services.subsidy.payments.bankfile import BankRow
from services.subsidy.payments.models import Reconciliation
from services.subsidy.payments.schemas import Mismatch, MismatchKind

D = Disbursement.__table__.c
COUNTY = (Role.county, Role.admin)


def _match(row: BankRow, lines: list, matched: set):
    """The line a confirmation row stands for, and whether it was found only by the payee's name."""
    free = [x for x in lines if x.id not in matched]
    if row.student_id is not None:
        return next((x for x in free if x.student_id == row.student_id), None), False
    if row.account:
        digest = accounts.lookup_hash(row.account)
        same = [x for x in free if x.payee_account_hash == digest]
        exact = [x for x in same if x.amount_fen == row.amount_fen]
        if exact or same:
            return (exact or same)[0], False
    if row.name:
        return next((x for x in free if x.payee_name == row.name), None), True
    return None, False


def _compare(row: BankRow, line) -> list[Mismatch]:
    found = dict(row=row.row, line_id=line.id, student_id=line.student_id, name=line.student_name)
    out = []
    if line.status == "failed":
        out.append(Mismatch(kind=MismatchKind.failed_line_in_file, **found))
    if row.amount_fen is not None and row.amount_fen != line.amount_fen:
        out.append(
            Mismatch(
                kind=MismatchKind.amount_differs,
                expected_fen=line.amount_fen,
                found_fen=row.amount_fen,
                **found,
            )
        )
    if row.account and accounts.lookup_hash(row.account) != line.payee_account_hash:
        out.append(
            Mismatch(
                kind=MismatchKind.account_differs,
                expected_account=line.payee_masked,
                found_account=accounts.mask(row.account),
                **found,
            )
        )
    return out


def compare(rows: list[BankRow], lines: list) -> tuple[int, list[Mismatch]]:
    """Return (rows matched, mismatches) of a confirmation against the batch's lines."""
    matched: set = set()
    mismatches: list[Mismatch] = []
    for row in rows:
        line, _by_name = _match(row, lines, matched)
        if line is None:
            mismatches.append(
                Mismatch(
                    kind=MismatchKind.unknown_line,
                    row=row.row,
                    student_id=row.student_id,
                    found_fen=row.amount_fen,
                    found_account=accounts.mask(row.account) if row.account else None,
                )
            )
            continue
        matched.add(line.id)
        mismatches.extend(_compare(row, line))
    for line in lines:
        if line.id not in matched and line.status == "paid":
            mismatches.append(
                Mismatch(
                    kind=MismatchKind.missing_from_file,
                    line_id=line.id,
                    student_id=line.student_id,
                    name=line.student_name,
                    expected_fen=line.amount_fen,
                    expected_account=line.payee_masked,
                )
            )
    return len(matched), mismatches


async def reconcile(
    session: AsyncSession, principal: Principal, *, batch: Batch, rows: list[BankRow], source: str
) -> Reconciliation:
    """Check the bank's confirmation against a paid batch and keep the result."""
    if principal.role not in COUNTY:
        raise Forbidden("Only the county reconciles the bank's file")
    if batch.status != "paid":
        raise Conflict(f"A {batch.status} batch has not been paid: nothing to reconcile")
    lines = (
        await session.execute(
            select(D.id, D.student_id, D.student_name, D.status, D.amount_fen, D.payee_account_hash,
                   D.payee_masked, D.payee_name)
            .where(D.batch_id == batch.id, D.status.in_(("paid", "failed")))
            .order_by(D.grade, D.student_name, D.id)
        )
    ).all()  # fmt: skip
    matched, mismatches = compare(rows, lines)
    result = Reconciliation(
        batch_id=batch.id,
        area_code=batch.area_code,
        school_code=batch.school_code,
        source=source[:200],
        rows=len(rows),
        matched=matched,
        mismatch_count=len(mismatches),
        mismatches=[m.model_dump(mode="json") for m in mismatches],
        uploaded_by=principal.username,
    )
    session.add(result)
    await session.flush()
    note = f"{len(rows)} rows, {matched} matched, {len(mismatches)} mismatch(es)"
    await record(session, batch, principal, "reconciled", note=note)
    return result


async def history(session: AsyncSession, batch: Batch) -> list[Reconciliation]:
    """The batch's reconciliations, newest first."""
    stmt = select(Reconciliation).where(Reconciliation.batch_id == batch.id)
    return list((await session.execute(stmt.order_by(Reconciliation.created_at.desc()))).scalars())
