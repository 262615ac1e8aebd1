"""Bank returns: paid lines the bank sent back become `failed`, with the bank's reason (idempotent)."""

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Forbidden, Invalid
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.batches.service import record
from services.subsidy.events import emit_lines
from services.subsidy.payees import accounts
from services.subsidy.payments.bankfile import BankRow
from services.subsidy.payments.schemas import ReturnedLine, ReturnsOut

D = Disbursement.__table__.c
COUNTY = (Role.county, Role.admin)
RETURNABLE = ("paid", "failed")


@dataclass
class _Line:
    id: object
    student_id: object
    status: str
    amount_fen: int
    account_hash: str | None
    failure_reason: str | None


class _Index:
    """The batch's lines by student and by account hash (siblings may share a guardian's card)."""

    def __init__(self, lines: list[_Line]):
        self.by_student = {x.student_id: x for x in lines}
        self.by_account: dict[str | None, list[_Line]] = {}
        for x in lines:
            self.by_account.setdefault(x.account_hash, []).append(x)

    def find(self, row: BankRow, taken: set) -> tuple[_Line | None, str]:
        """The line a returned row names: by student, else by account (and amount), one per row."""
        if row.student_id is not None:
            return self.by_student.get(row.student_id), "student_id"
        if row.account:
            same = self.by_account.get(accounts.lookup_hash(row.account), [])
            exact = [x for x in same if x.id not in taken and row.amount_fen in (None, x.amount_fen)]
            return (exact or [None])[0], "account"
        return None, "student_id"


async def mark_returned(
    session: AsyncSession, principal: Principal, *, batch: Batch, rows: list[BankRow], source: str
) -> ReturnsOut:
    """Mark the returned lines `failed`; 422 naming each row that names no paid line of the batch."""
    if principal.role not in COUNTY:
        raise Forbidden("Only the county records the bank's returns")
    lines = [
        _Line(*r)
        for r in await session.execute(
            select(D.id, D.student_id, D.status, D.amount_fen, D.payee_account_hash, D.failure_reason).where(
                D.batch_id == batch.id, D.status != "cancelled"
            )
        )
    ]
    errors, chosen, taken, index = [], {}, set(), _Index(lines)
    for row in rows:
        line, field = index.find(row, taken)
        if line is None:
            errors.append({"loc": [*row.loc, field], "code": "unknown_line",
                           "msg": f"row {row.row}: no line of this batch for this {field}"})  # fmt: skip
        elif line.status not in RETURNABLE:
            errors.append({"loc": [*row.loc, field], "code": "not_paid",
                           "msg": f"row {row.row}: the line is {line.status}, not paid"})  # fmt: skip
        elif not row.reason:
            errors.append({"loc": [*row.loc, "reason"], "code": "missing", "msg": f"row {row.row}: reason"})
        else:
            taken.add(line.id)
            chosen.setdefault(line.id, (line, row.reason[:500]))
    if errors:
        exc = Invalid(errors[0]["loc"], errors[0]["msg"], code=errors[0]["code"])
        exc.errors = errors[:1000]
        raise exc
    new = [(line, reason) for line, reason in chosen.values() if line.status == "paid"]
    by_reason: dict[str, list] = {}
    for line, reason in new:
        by_reason.setdefault(reason, []).append(line.id)
        line.status, line.failure_reason = "failed", reason
    for reason, ids in by_reason.items():  # one statement per reason (a bank has a handful)
        await session.execute(
            update(Disbursement.__table__)
            .where(D.id.in_(ids), D.status == "paid")
            .values(status="failed", failure_reason=reason, failed_at=func.now(), version=D.version + 1,
                    updated_at=func.now())
        )  # fmt: skip
    if new:
        await emit_lines(session, "edu.subsidy.disbursement.failed", D.id.in_([x.id for x, _ in new]))
        await record(session, batch, principal, "returned", note=f"{len(new)} line(s) returned ({source})")
    return ReturnsOut(
        batch_id=batch.id,
        failed=len(new),
        unchanged=len(chosen) - len(new),
        lines=[
            ReturnedLine(line_id=x.id, student_id=x.student_id, status=x.status,
                         failure_reason=x.failure_reason or "")
            for x, _ in chosen.values()
        ],
    )  # fmt: skip
