from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from services.kit.auth import CurrentPrincipal
from services.kit.db import SessionDep
from services.kit.gateway_trust import HEADER, NotViaGateway
from services.kit.responses import problems
from services.subsidy.batches.routes import BatchInScope, LockedBatch
from services.subsidy.payments import bankfile, paymentfile, reconcile, returns
from services.subsidy.payments.schemas import (
    CONFIRMATION_EXAMPLE,
    CONFIRMATION_FILE,
    RETURNS_EXAMPLE,
    RETURNS_FILE,
    ReconciliationOut,
    ReturnsOut,
)

router = APIRouter(prefix="/api/v1/subsidy/batches", tags=["subsidy payments"])
MEDIA = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
}


LINE_FIELDS = {
    "student_id": {"type": "string", "format": "uuid"},
    "account": {"type": "string", "maxLength": 40},
    "amount_fen": {"type": "integer", "minimum": 1},
    "amount_yuan": {"type": "string", "pattern": r"^[0-9]+(\.[0-9]{1,2})?$"},
    "name": {"type": "string", "maxLength": 50},
    "reason": {"type": "string", "maxLength": 500},
}
LINES_SCHEMA = {
    "type": "object",
    "required": ["lines"],
    "properties": {
        "lines": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "object", "properties": LINE_FIELDS, "additionalProperties": False},
        }
    },
}
PAYMENT_FILE = (
    "序号,收款人,账号,开户行,金额(元),身份证号,摘要,学生ID\n"
    "1,王建国,6228480402564890018,中国农业银行旬阳支行,625.00,610928********0011,"
    "王小明 寄宿生生活补助 2026年秋季学期,0b6a1c2e-3f4d-4e5f-8a9b-0c1d2e3f4a5b\n"
    "合计,1笔,,,625.00,,,\n"
)


def _body(json_example: dict, file_example: str) -> dict:
    return {
        "requestBody": {
            "content": {
                "application/json": {"schema": LINES_SCHEMA, "example": json_example},
                "multipart/form-data": {
                    "schema": {"type": "object", "required": ["file"],
                               "properties": {"file": {"type": "string", "format": "binary"}}},
                    "example": {"file": file_example},
                },
            },
            "required": True,
        }
    }  # fmt: skip


async def via_gateway(request: Request) -> None:
    """Refuse a request the gateway did not forward (kit.auth verified any signature it carries)."""
    if not request.headers.get(HEADER):
        raise NotViaGateway("The payment file is a reveal: download it through the gateway (audited)")


@router.get(
    "/{batch_id}/payment-file",
    dependencies=[Depends(via_gateway)],
    summary="Download the bank's payment file (代发文件)",
    response_class=Response,
    responses={
        200: {"content": {"text/csv": {"example": PAYMENT_FILE}, MEDIA["xlsx"]: {}}},
        **problems(403, 404, 409),
    },
)
async def payment_file(
    batch: LockedBatch,
    session: SessionDep,
    principal: CurrentPrincipal,
    format: Annotated[Literal["csv", "xlsx"], Query(description="csv (UTF-8 with BOM) or xlsx")] = "xlsx",
) -> Response:
    """The bank-ready list of an approved or paid batch: 序号, 收款人, 账号, 开户行, 金额(元), 身份证号, 摘要,
    学生ID, and a total row (合计).

    The whole account number appears only here: the download is audited as a reveal by the gateway and
    refused on a service port. County users (the finance office). The student's ID number is masked
    (first 6, last 4): the subsidy service never holds it whole. Lines whose payee was recorded after
    submission take it now; a line without any payee is a 409 naming the students.
    """
    rows = await paymentfile.rows_of(session, principal, batch)
    name = f"payment-{batch.school_code}-{batch.semester}-{batch.policy_code}.{format}"
    return Response(
        paymentfile.render(rows, format),
        media_type=MEDIA[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"', "Cache-Control": "no-store"},
    )


@router.post(
    "/{batch_id}/returns",
    response_model=ReturnsOut,
    summary="Record the bank's returns (支付失败)",
    openapi_extra=_body(RETURNS_EXAMPLE, RETURNS_FILE),
    responses=problems(403, 404, 413, 422),
)
async def record_returns(
    request: Request, batch: LockedBatch, session: SessionDep, principal: CurrentPrincipal
) -> ReturnsOut:
    """Mark paid lines the bank sent back as `failed`, with its reason (county users).

    JSON `{"lines": [{"student_id", "reason"}]}`, or the bank's return file as multipart `file`
    (CSV/XLSX with `账号`/`account`, `金额(元)`/`amount_yuan` or `amount_fen`, `失败原因`/`reason`, or a
    `学生ID`/`student_id` column as in the payment file). All or nothing: a row naming no line of the
    batch, or a line not paid, is a 422 naming the row. A line already failed is `unchanged` (a repeated
    return changes nothing). Each failed line emits `edu.subsidy.disbursement.failed` (figures stop
    counting it) and the batch `edu.subsidy.batch.returned`. Correct the payee, then re-pay with
    `POST /batches {"kind": "repay", ...}`.
    """
    rows, source = await bankfile.read_request(request)
    return await returns.mark_returned(session, principal, batch=batch, rows=rows, source=source)


@router.post(
    "/{batch_id}/reconciliation",
    status_code=201,
    response_model=ReconciliationOut,
    summary="Reconcile the bank's confirmation file (对账)",
    openapi_extra=_body(CONFIRMATION_EXAMPLE, CONFIRMATION_FILE),
    responses=problems(403, 404, 409, 413, 422),
)
async def reconcile_batch(
    request: Request, batch: LockedBatch, session: SessionDep, principal: CurrentPrincipal
) -> ReconciliationOut:
    """Check the bank's confirmation of a paid batch (county users) and list every mismatch.

    JSON `{"lines": [{"account", "amount_yuan" | "amount_fen", "name"?, "student_id"?}]}` or a CSV/XLSX
    `file` with those columns (账号, 金额(元), 收款人, 学生ID). Mismatch kinds: `amount_differs`,
    `account_differs`, `unknown_line` (in the file, not in the batch), `missing_from_file` (a paid line
    the bank does not confirm), `failed_line_in_file`. Kept; `GET` lists them. Event
    `edu.subsidy.batch.reconciled`.
    """
    rows, source = await bankfile.read_request(request)
    result = await reconcile.reconcile(session, principal, batch=batch, rows=rows, source=source)
    return ReconciliationOut.model_validate(result)


@router.get(
    "/{batch_id}/reconciliation",
    response_model=list[ReconciliationOut],
    summary="List a batch's reconciliations",
    responses=problems(403, 404),
)
async def list_reconciliations(batch: BatchInScope, session: SessionDep) -> list[ReconciliationOut]:
    """Every reconciliation of the batch, newest first, with its mismatches."""
    return [ReconciliationOut.model_validate(r) for r in await reconcile.history(session, batch)]
