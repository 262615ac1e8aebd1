import asyncio
import itertools
from typing import Annotated

from fastapi import APIRouter, File, UploadFile
from pydantic import BaseModel, Field

from services.kit.auth import CurrentPrincipal
from services.kit.barrier import FreshProjection
from services.kit.crypto import mask_ids
from services.kit.db import SessionDep
from services.kit.errors import Invalid, PayloadTooLarge
from services.kit.responses import problems
from services.kit.spreadsheet import UnreadableFile, kind_of, read_table
from services.subsidy.history import service

router = APIRouter(prefix="/api/v1/subsidy/history-imports", tags=["subsidy history"])
MAX_BYTES = 20 * 1024 * 1024
DESCRIPTION = (
    "Import past payments from the county's ledger (台账, since 2014) as paid lines of kind `history`: "
    "multipart `file`, CSV (UTF-8 or GB18030) or XLSX, one row per payment. Columns by header, English or "
    "Chinese: `id_number` (身份证号), `semester` (学期: `2019-spring` or `2019年春季学期`), `policy_code` "
    "(政策代码, a policy of your area), the amount as `amount_yuan` (金额(元): yuan with at most two "
    "decimals, e.g. 625.00) **or** `amount_fen` (金额(分): whole fen, e.g. 62500), `paid_on` (发放日期, "
    "YYYY-MM-DD, not in the future) and `school_code` (学校标识码, a school of your area). Students are "
    "found by the registry's keyed hash of the ID number. Idempotent: a row already imported changes "
    "nothing (`unchanged`); valid rows are imported and the rest listed in `errors` by row and column "
    "(ID numbers masked), so the corrected file can simply be imported again. Imported lines block a "
    "second payment of the same policy and semester and are counted by statistics "
    "(`edu.subsidy.disbursement.paid`). County users and admins."
)


class RowErrorOut(BaseModel):
    row: int = Field(description="The spreadsheet row (the header is row 1)")
    column: str = Field(description="The column's header in the file")
    message: str


class HistoryImportOut(BaseModel):
    rows: int
    imported: int
    unchanged: int = Field(description="Rows already imported before (nothing changed)")
    error_count: int
    errors: list[RowErrorOut] = Field(description="The first 1000 rows in error")


EXAMPLE_FILE = (
    "id_number,semester,policy_code,amount_yuan,paid_on,school_code\n"
    "610928201001010011,2019-spring,CN-LIVING-BOARD-PRIMARY,625.00,2019-05-20,2161000123\n"
)


@router.post(
    "",
    response_model=HistoryImportOut,
    summary="Import past payments (台账)",
    description=DESCRIPTION,
    openapi_extra={
        "requestBody": {
            "content": {
                "multipart/form-data": {
                    "encoding": {"file": {"contentType": "text/csv"}},
                    "example": {"file": EXAMPLE_FILE},
                }
            }
        }
    },
    responses={
        200: {
            "content": {
                "application/json": {
                    "example": {
                        "rows": 2,
                        "imported": 1,
                        "unchanged": 0,
                        "error_count": 1,
                        "errors": [
                            {
                                "row": 3,
                                "column": "身份证号",
                                "message": "no registered student has ID number 610928********0011",
                            }
                        ],
                    }
                }
            }
        },
        **problems(403, 413, 422, 503),
    },
)
async def import_history(
    session: SessionDep,
    principal: CurrentPrincipal,
    _fresh: FreshProjection,
    file: Annotated[UploadFile, File(description="CSV or XLSX ledger")],
) -> HistoryImportOut:
    service.check_importer(principal)
    filename = file.filename or "ledger.csv"
    try:
        kind_of(filename)
    except UnreadableFile as exc:
        raise Invalid(["file"], str(exc)) from None
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise PayloadTooLarge(f"The ledger is larger than {MAX_BYTES // (1024 * 1024)} MB; split it")
    try:
        header, rows = await asyncio.to_thread(_read, data, filename)
    except (UnreadableFile, ValueError) as exc:
        raise Invalid(["file"], str(exc)) from None
    out = await service.import_rows(
        session, principal, header=header, rows=iter(rows), source=f"ledger {mask_ids(filename[:100])}"
    )
    return HistoryImportOut(
        rows=out.rows,
        imported=out.imported,
        unchanged=out.unchanged,
        error_count=out.error_count,
        errors=out.errors,
    )


def _read(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Read the header and rows (one more than the limit, so an oversized file is named as such)."""
    with read_table(data, filename) as table:
        return table.header, list(itertools.islice(table.rows, service.MAX_ROWS + 1))
