import uuid

from pydantic import Field, StrictInt

from services.contracts.vocabulary import LoanKind, RepaymentStatus
from services.kit.schemas import InputModel, Stored


class LoanCreate(InputModel):
    student_id: uuid.UUID
    loan_kind: LoanKind = Field(description="national (国家助学贷款) or origin_credit (生源地信用助学贷款)")
    year: StrictInt = Field(ge=2000, le=2100, description="The school year's calendar year the loan is for")
    amount_fen: StrictInt = Field(gt=0, le=10**9, description="In fen (integer)")
    lender: str = Field(min_length=2, max_length=100, examples=["国家开发银行"])
    contract_number: str = Field(min_length=1, max_length=60, pattern=r"^[A-Za-z0-9_./-]+$")
    repayment_status: RepaymentStatus = RepaymentStatus.in_school


class LoanUpdate(InputModel):
    repayment_status: RepaymentStatus
    version: int | None = None


class LoanPublic(Stored):
    id: uuid.UUID
    student_id: uuid.UUID
    student_name: str
    school_code: str | None
    area_code: str
    stage: str | None
    loan_kind: LoanKind
    loan_kind_text: str
    year: int
    amount_fen: int
    lender: str
    contract_number: str
    repayment_status: RepaymentStatus
    repayment_status_text: str
    recorded_by: str


EXAMPLE = {
    "student_id": "0b9c3c1e-8a43-4bde-9d7e-0d6c1f1b2a10",
    "loan_kind": "origin_credit",
    "year": 2026,
    "amount_fen": 1600000,
    "lender": "国家开发银行",
    "contract_number": "GK2026-5221-000123",
    "repayment_status": "in_school",
}
