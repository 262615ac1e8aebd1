"""Student loans for higher education (国家助学贷款 / 生源地信用助学贷款): records, and events for figures."""

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import LOAN_KIND_NAMES, REPAYMENT_STATUS_NAMES
from services.kit.auth import Principal, Role
from services.kit.errors import Conflict, Forbidden, NotFound
from services.kit.rls import within
from services.kit.versioning import check_version
from services.subsidy.db import now
from services.subsidy.events import emit
from services.subsidy.loans.models import Loan
from services.subsidy.loans.schemas import LoanCreate, LoanUpdate
from services.subsidy.notices.service import student_or_404

RECORDERS = (Role.admin, Role.county, Role.school)


def visible_to(principal: Principal):
    if principal.role is Role.school:
        return Loan.school_code == principal.school_code
    if principal.role is Role.village:
        return within(Loan.village_code, principal.area_code)
    return within(Loan.area_code, principal.area_code)


async def record(session: AsyncSession, principal: Principal, *, data: LoanCreate) -> Loan:
    """Record a loan contract of one of the caller's students (one per lender and contract number)."""
    if principal.role not in RECORDERS:
        raise Forbidden("Only county and school users record loans")
    student = await student_or_404(session, principal, data.student_id)
    loan = Loan(
        student_id=student.student_id,
        student_name=student.name,
        household_id=student.household_id,
        area_code=student.area_code or principal.area_code,
        school_code=student.school_code,
        village_code=student.village_code,
        stage=student.stage,
        categories=list(student.categories),
        loan_kind=data.loan_kind.value,
        year=data.year,
        amount_fen=data.amount_fen,
        lender=data.lender,
        contract_number=data.contract_number,
        repayment_status=data.repayment_status.value,
        recorded_by=principal.username,
    )
    session.add(loan)
    try:
        await session.flush()
    except IntegrityError as exc:
        raise Conflict("A loan with this lender and contract number is already recorded") from exc
    await _emit(session, loan, "recorded")
    return loan


async def update(
    session: AsyncSession, principal: Principal, *, loan: Loan, data: LoanUpdate, if_match: str | None
) -> Loan:
    """Change a loan's repayment status."""
    if principal.role not in RECORDERS:
        raise Forbidden("Only county and school users change loans")
    check_version(loan.version, data.version, if_match)
    loan.repayment_status = data.repayment_status.value
    loan.version += 1
    loan.updated_at = now()
    session.add(loan)
    await session.flush()
    await _emit(session, loan, "updated")
    return loan


async def get_or_404(session: AsyncSession, principal: Principal, loan_id: uuid.UUID) -> Loan:
    loan = (
        await session.execute(select(Loan).where(Loan.id == loan_id, visible_to(principal)))
    ).scalar_one_or_none()
    if loan is None:
        raise NotFound("No such loan")
    return loan


def to_public(loan: Loan) -> dict:
    return {
        **loan.model_dump(),
        "loan_kind_text": LOAN_KIND_NAMES.get(loan.loan_kind, loan.loan_kind),
        "repayment_status_text": REPAYMENT_STATUS_NAMES.get(loan.repayment_status, loan.repayment_status),
    }


async def _emit(session: AsyncSession, loan: Loan, what: str) -> None:
    keys = ("area_code", "school_code", "village_code", "stage", "loan_kind", "year", "amount_fen", "lender",
            "contract_number", "repayment_status")  # fmt: skip
    data = {
        "id": str(loan.id),
        "student_id": str(loan.student_id),
        "household_id": str(loan.household_id) if loan.household_id else None,
        "categories": list(loan.categories),
        **{k: getattr(loan, k) for k in keys},
    }
    await emit(
        session,
        f"edu.subsidy.loan.{what}",
        subject=str(loan.id),
        area_code=loan.area_code,
        school_code=loan.school_code,
        version=loan.version,
        data=data,
    )
