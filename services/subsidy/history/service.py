"""Import past payments from a county's ledger (台账 since 2014) as paid `history` lines.

Idempotent: a row whose line is already there (same student, policy and semester, same amount) changes
nothing; the partial unique index that keeps anyone from being paid twice also keeps a ledger row from
being imported twice, and an imported line blocks a second payment of that semester like any other.
Valid rows are imported and the others reported, so the corrected file can simply be imported again.
The service never sees an ID number at rest: it hashes the file's with the registry's keyed hash and
finds the student in its own projection.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.calendar import Semester
from services.kit.auth import Principal, Role
from services.kit.crypto import id_cipher
from services.kit.errors import Forbidden, Invalid
from services.kit.rls import as_system
from services.kit.settings import get_settings
from services.subsidy.batches.categories import categories_at
from services.subsidy.batches.generation import LIVE_INDEX
from services.subsidy.batches.models import Disbursement
from services.subsidy.events import emit_lines
from services.subsidy.history.rows import LedgerRow, RowError, columns_of, masked, read_row
from services.subsidy.policies.models import Policy
from services.subsidy.policies.service import policy_for_year, visible_to
from services.subsidy.projection.models import SchoolFact, StudentFact

IMPORTERS = (Role.admin, Role.county)
MAX_ROWS = 50_000
D = Disbursement.__table__.c


@dataclass
class Outcome:
    rows: int = 0
    imported: int = 0
    unchanged: int = 0
    errors: list[dict] = field(default_factory=list)
    error_count: int = 0
    line_ids: list[uuid.UUID] = field(default_factory=list)

    def error(self, row: int, column: str, message: str) -> None:
        self.error_count += 1
        if len(self.errors) < 1000:  # enough to fix a file by; the count says the rest
            self.errors.append({"row": row, "column": column, "message": message})


def check_importer(principal: Principal) -> None:
    if principal.role not in IMPORTERS:
        raise Forbidden("Only county users and admins import payment history")


async def import_rows(
    session: AsyncSession, principal: Principal, *, header: list[str], rows: Iterator[tuple[int, list[str]]],
    source: str,
) -> Outcome:  # fmt: skip
    """Check and import every row of a ledger; return the counts and the per-row errors."""
    try:
        columns = columns_of(header)
    except RowError as exc:
        raise Invalid(["file"], str(exc)) from None
    out, cipher = Outcome(), id_cipher(get_settings())
    for number, cells in rows:
        out.rows += 1
        if out.rows > MAX_ROWS:
            raise Invalid(["file"], f"at most {MAX_ROWS} rows per file; split it")
        try:
            row = read_row(number, cells, columns, header)
            await _import(session, principal, row, cipher.lookup_hash(row.id_number), out, source)
        except RowError as exc:
            out.error(number, exc.field, str(exc))
    if out.line_ids:
        await emit_lines(session, "edu.subsidy.disbursement.paid", D.id.in_(out.line_ids))
    return out


async def _import(
    session: AsyncSession, principal: Principal, row: LedgerRow, id_hash: str, out: Outcome, source: str
) -> None:
    # One ID number is one student deployment-wide: the child may study in another county today.
    async with as_system(session):
        student = (
            await session.execute(select(StudentFact).where(StudentFact.id_number_hash == id_hash))
        ).scalar_one_or_none()
    if student is None:
        raise RowError("id_number", f"no registered student has ID number {masked(row.id_number)}")
    school = await session.get(SchoolFact, row.school_code)
    if school is None or not school.area_code.startswith(principal.area_code):
        raise RowError("school_code", "not a registered school of your area")
    policy = await _policy(session, principal, row)
    line_id = await _insert(session, student, school, policy, row, source)
    if line_id is not None:
        out.imported += 1
        out.line_ids.append(line_id)
        return
    existing = (
        await session.execute(
            select(D.kind, D.amount_fen, D.status).where(
                D.student_id == student.student_id, D.policy_code == row.policy_code,
                D.semester == row.semester, D.status != "cancelled",
            )
        )
    ).first()  # fmt: skip
    if existing is not None and existing.kind == "history" and existing.amount_fen == row.amount_fen:
        out.unchanged += 1
        return
    status = existing.status if existing is not None else "live"
    raise RowError("semester", f"the student already has a {status} line of this policy and semester")


async def _policy(session: AsyncSession, principal: Principal, row: LedgerRow) -> Policy:
    policy = await policy_for_year(session, row.policy_code, Semester.parse(row.semester).year)
    if policy is None:  # a ledger may predate the years a policy was set up for: its current revision
        policy = (
            await session.execute(select(Policy).where(Policy.code == row.policy_code, Policy.is_current))
        ).scalar_one_or_none()
    visible = (
        policy is not None
        and (
            await session.execute(select(Policy.id).where(Policy.id == policy.id, visible_to(principal)))
        ).first()
    )
    if not visible:
        raise RowError("policy_code", f"no policy {row.policy_code} in your area")
    return policy


async def _insert(session: AsyncSession, student: StudentFact, school: SchoolFact, policy: Policy,
                  row: LedgerRow, source: str) -> uuid.UUID | None:  # fmt: skip
    categories = (
        await session.execute(
            select(categories_at(row.semester)).where(StudentFact.student_id == student.student_id)
        )
    ).scalar_one()
    values = dict(
        id=uuid.uuid4(), kind="history", batch_id=None, student_id=student.student_id,
        student_name=student.name, id_number_masked=student.id_number_masked,
        household_id=student.household_id, school_code=school.code, area_code=school.area_code,
        village_code=student.village_code, stage=school.stages[0] if len(school.stages) == 1 else None,
        categories=list(categories), policy_code=policy.code, policy_id=policy.id, policy_kind=policy.kind,
        semester=row.semester, amount_fen=row.amount_fen, status="paid", paid_on=row.paid_on,
        reason=f"{source} row {row.number}"[:500],
    )  # fmt: skip
    stmt = (
        insert(Disbursement.__table__)
        .values(**values)
        .on_conflict_do_nothing(
            index_elements=["student_id", "policy_code", "semester"], index_where=LIVE_INDEX
        )
        .returning(D.id)
    )
    return (await session.execute(stmt)).scalar_one_or_none()
