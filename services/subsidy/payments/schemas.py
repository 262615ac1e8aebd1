import uuid
from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

from services.kit.schemas import OutputModel


class PaymentTotals(BaseModel):
    """What became of a batch's money: paid and still paid, returned failed, and paid again (补付)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "paid_count": 3, "paid_fen": 187500, "failed_count": 2, "failed_fen": 125000,
        "repaid_count": 2, "repaid_fen": 125000, "repay_pending_count": 0}]})  # fmt: skip

    paid_count: int = Field(description="Lines paid and not returned")
    paid_fen: int
    failed_count: int = Field(description="Lines the bank returned (status `failed`)")
    failed_fen: int
    repaid_count: int = Field(description="Failed lines paid again by a re-payment batch")
    repaid_fen: int
    repay_pending_count: int = Field(description="Failed lines in a re-payment batch not yet paid")


class ReturnedLine(OutputModel):
    line_id: uuid.UUID
    student_id: uuid.UUID
    status: str
    failure_reason: str


class ReturnsOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "batch_id": "5f0c1d2e-3f4a-4b5c-8d9e-0f1a2b3c4d5e", "failed": 2, "unchanged": 0,
        "lines": [{"line_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
                   "student_id": "0b6a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b",
                   "status": "failed", "failure_reason": "账户已销户"}]}]})  # fmt: skip

    batch_id: uuid.UUID
    failed: int = Field(description="Lines marked failed by this request")
    unchanged: int = Field(description="Lines already failed (a repeated return changes nothing)")
    lines: list[ReturnedLine]


class MismatchKind(StrEnum):
    amount_differs = "amount_differs"  # 金额不符
    account_differs = "account_differs"  # 账号不符
    unknown_line = "unknown_line"  # 文件中有、批次中无
    missing_from_file = "missing_from_file"  # 批次中有、文件中无
    failed_line_in_file = "failed_line_in_file"  # 已退回（支付失败）的行出现在确认文件中


class Mismatch(BaseModel):
    kind: MismatchKind
    row: int | None = Field(default=None, description="The file's row (header = row 1), or the JSON index")
    line_id: uuid.UUID | None = None
    student_id: uuid.UUID | None = None
    name: str | None = Field(default=None, description="The student's name (the line's)")
    expected_fen: int | None = None
    found_fen: int | None = None
    expected_account: str | None = Field(default=None, description="The line's payee account, masked")
    found_account: str | None = Field(default=None, description="The file's account, masked")


class ReconciliationOut(OutputModel):
    model_config = ConfigDict(from_attributes=True, json_schema_extra={"examples": [{
        "id": "1c2d3e4f-5a6b-4c7d-8e9f-0a1b2c3d4e5f", "batch_id": "5f0c1d2e-3f4a-4b5c-8d9e-0f1a2b3c4d5e",
        "source": "file 对账单.xlsx", "rows": 2, "matched": 1, "mismatch_count": 2,
        "mismatches": [
            {"kind": "amount_differs", "row": 2, "line_id": "9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
             "student_id": "0b6a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b", "name": "王小明",
             "expected_fen": 62500, "found_fen": 62000},
            {"kind": "unknown_line", "row": 3, "found_fen": 62500, "found_account": "621700*********5677"}],
        "uploaded_by": "county_610928", "created_at": "2026-12-13T09:30:00Z"}]})  # fmt: skip

    id: uuid.UUID
    batch_id: uuid.UUID
    source: str
    rows: int
    matched: int
    mismatch_count: int
    mismatches: list[Mismatch]
    uploaded_by: str
    created_at: datetime


RETURNS_EXAMPLE = {
    "lines": [
        {"student_id": "0b6a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b", "reason": "账户已销户"},
        {"student_id": "7c1d2e3f-4a5b-4c6d-9e8f-1a2b3c4d5e6f", "reason": "户名不符"},
    ]
}
RETURNS_FILE = "账号,金额(元),失败原因\n6228480402564890018,625.00,账户已销户\n"
CONFIRMATION_EXAMPLE = {
    "lines": [
        {"account": "6228480402564890018", "amount_yuan": "625.00", "name": "王建国"},
        {"account": "6217000123456789012", "amount_fen": 62500},
    ]
}
CONFIRMATION_FILE = "账号,收款人,金额(元)\n6228480402564890018,王建国,625.00\n"
