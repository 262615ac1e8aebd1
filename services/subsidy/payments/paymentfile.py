"""The bank's payment file (代发文件) of an approved or paid batch: one row per line, a total row.

Layout: 序号, 收款人, 账号 (whole: the only place it appears, and the download is audited as a reveal),
开户行, 金额(元), 身份证号 (the student's, masked: this service never holds a whole ID number — the
registry keeps it encrypted — so the bank matches by account and name), 摘要 (student, policy,
semester), 学生ID (lets the bank's return or confirmation file name the line exactly).
"""

import csv
import io

from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden
from services.kit.spreadsheet import safe_cell, write_xlsx
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.domain import semester_label, yuan
from services.subsidy.payees import accounts
from services.subsidy.payments.lines import snapshot_payees
from services.subsidy.policies.models import Policy

D = Disbursement.__table__.c
HEADER = ["序号", "收款人", "账号", "开户行", "金额(元)", "身份证号", "摘要", "学生ID"]
TEXT_COLUMNS = [2, 5, 7]
DOWNLOADERS = (Role.county,)


async def rows_of(session: AsyncSession, principal: Principal, batch: Batch) -> list[list[str]]:
    """Return the file's rows (total row last); 409 unless approved or paid and every line has a payee."""
    if principal.role not in DOWNLOADERS:
        raise Forbidden("Only the county's finance office downloads the bank's payment file")
    if batch.status not in ("approved", "paid"):
        raise Conflict(f"A {batch.status} batch has no payment file: it must be approved first")
    # A payee recorded after submission still reaches the bank: lines without one take it now.
    await snapshot_payees(session, batch, only_missing=True)
    policy = await session.get(Policy, batch.policy_id)
    lines = (
        await session.execute(
            select(D.student_id, D.student_name, D.id_number_masked, D.amount_fen, D.payee_name,
                   D.payee_account_encrypted, D.payee_bank_name)
            .where(D.batch_id == batch.id, D.status != "cancelled")
            .order_by(D.grade, D.student_name, D.id)
        )
    ).all()  # fmt: skip
    missing = [line.student_name for line in lines if line.payee_account_encrypted is None]
    if missing:
        raise Conflict(
            f"{len(missing)} line(s) have no payee (收款人) yet: {', '.join(missing[:10])}",
            extra={"missing": len(missing)},
        )
    summary = f"{policy.name if policy else batch.policy_code} {semester_label(batch.semester)}"
    out = [
        [str(i), line.payee_name, accounts.unseal(line.payee_account_encrypted), line.payee_bank_name or "",
         yuan(line.amount_fen), line.id_number_masked, f"{line.student_name} {summary}", str(line.student_id)]
        for i, line in enumerate(lines, start=1)
    ]  # fmt: skip
    total = sum(line.amount_fen for line in lines)
    out.append(["合计", f"{len(lines)}笔", "", "", yuan(total), "", "", ""])
    return out


def render(rows: list[list[str]], fmt: str) -> bytes:
    """CSV (UTF-8 with BOM, for Excel) or XLSX (account and ID columns as text), formula-safe."""
    if fmt == "xlsx":
        return write_xlsx([("代发明细", HEADER, rows)], text_columns=TEXT_COLUMNS)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows([[safe_cell(v) for v in row] for row in rows])
    return buffer.getvalue().encode("utf-8-sig")
