"""Read what a bank sends back (returns, confirmations): a JSON list of lines or a CSV/XLSX file.

Columns by header, English or Chinese: `student_id` (学生ID), `account` (账号, 卡号, 收款账号),
`amount_yuan` (金额(元), two decimals at most) or `amount_fen` (金额(分)), `name` (收款人, 户名),
`reason` (原因, 失败原因, 退回原因). Rows are numbered as in the file (the header is row 1); JSON lines
from 0, as their index in `lines`.
"""

import asyncio
import itertools
import json
import re
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from fastapi import Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.kit.errors import Invalid, PayloadTooLarge
from services.kit.spreadsheet import UnreadableFile, kind_of, read_table

MAX_BYTES = 20 * 1024 * 1024
MAX_ROWS = 50_000
ALIASES = {
    "student_id": ("student_id", "学生id", "学生标识"),
    "account": ("account", "account_number", "账号", "卡号", "收款账号", "收款人账号", "银行账号"),
    "amount_yuan": ("amount_yuan", "金额(元)", "金额（元）", "金额", "交易金额", "发放金额(元)"),
    "amount_fen": ("amount_fen", "金额(分)", "金额（分）"),
    "name": ("name", "收款人", "户名", "收款人姓名"),
    "reason": ("reason", "原因", "失败原因", "退回原因", "备注"),
}
YUAN = re.compile(r"^[0-9]+(\.[0-9]{1,2})?$")


@dataclass(frozen=True)
class BankRow:
    row: int
    loc: tuple  # where an error about this row points: ("lines", 3) or ("file", "row 4")
    student_id: uuid.UUID | None = None
    account: str | None = None
    amount_fen: int | None = None
    name: str | None = None
    reason: str | None = None


class LineIn(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    student_id: uuid.UUID | None = None
    account: str | None = Field(default=None, max_length=40)
    amount_fen: int | None = Field(default=None, gt=0)
    amount_yuan: str | None = Field(default=None, max_length=20)
    name: str | None = Field(default=None, max_length=50)
    reason: str | None = Field(default=None, min_length=1, max_length=500)


class LinesIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    lines: list[LineIn] = Field(min_length=1, max_length=MAX_ROWS)


def fen_of(text: str, loc: tuple) -> int:
    """Yuan with at most two decimals → fen, exactly (no floats)."""
    value = text.replace(",", "").strip()
    if not YUAN.match(value):
        raise Invalid(list(loc), f"{text!r} is not an amount in yuan (at most two decimals)", code="amount")
    try:
        return int(Decimal(value) * 100)
    except InvalidOperation:
        raise Invalid(list(loc), f"{text!r} is not an amount", code="amount") from None


def _digits(text: str | None) -> str | None:
    value = re.sub(r"[\s-]", "", text or "")
    return value or None


def from_json(body: object) -> list[BankRow]:
    try:
        data = LinesIn.model_validate(body)
    except ValidationError as exc:
        from fastapi.exceptions import RequestValidationError

        raise RequestValidationError([{**e, "loc": ("body", *e["loc"])} for e in exc.errors()]) from None
    out = []
    for i, line in enumerate(data.lines):
        loc = ("lines", i)
        fen = line.amount_fen
        if fen is None and line.amount_yuan is not None:
            fen = fen_of(line.amount_yuan, (*loc, "amount_yuan"))
        out.append(BankRow(i, loc, line.student_id, _digits(line.account), fen, line.name, line.reason))
    return out


def _columns(header: list[str]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, name in enumerate(header):
        for field, names in ALIASES.items():
            if name.strip().lower() in names and field not in found:
                found[field] = index
    return found


def _read(data: bytes, filename: str) -> tuple[list[str], list[tuple[int, list[str]]]]:
    with read_table(data, filename) as table:
        return table.header, list(itertools.islice(table.rows, MAX_ROWS + 1))


def from_table(header: list[str], rows: list[tuple[int, list[str]]]) -> list[BankRow]:
    columns = _columns(header)
    if "student_id" not in columns and "account" not in columns:
        raise Invalid(["file"], "The file needs an account (账号) or a student_id column", code="columns")
    if len(rows) > MAX_ROWS:
        raise Invalid(["file"], f"More than {MAX_ROWS} rows; split the file")
    out = []
    for number, cells in rows:
        if cells and cells[0].strip().startswith(("合计", "总计")):
            continue  # a total row (our own payment file has one)

        def cell(field: str, cells=cells) -> str | None:
            i = columns.get(field)
            value = cells[i].strip() if i is not None and i < len(cells) else ""
            return value or None

        loc = ("file", f"row {number}")
        student = cell("student_id")
        try:
            student_id = uuid.UUID(student) if student else None
        except ValueError:
            raise Invalid([*loc, header[columns["student_id"]]], f"{student!r} is not a student id") from None
        fen = None
        if cell("amount_fen"):
            if not (cell("amount_fen") or "").isdigit():
                raise Invalid([*loc, header[columns["amount_fen"]]], "amount_fen is whole fen", code="amount")
            fen = int(cell("amount_fen") or 0)
        elif cell("amount_yuan"):
            fen = fen_of(cell("amount_yuan") or "", (*loc, header[columns["amount_yuan"]]))
        out.append(
            BankRow(number, loc, student_id, _digits(cell("account")), fen, cell("name"), cell("reason"))
        )
    return out


async def read_request(request: Request) -> tuple[list[BankRow], str]:
    """Return the rows of a JSON body (`{"lines": [...]}`) or a multipart `file`, and a source label."""
    content_type = request.headers.get("content-type", "")
    if content_type.startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("file")
        if upload is None or isinstance(upload, str):
            raise Invalid(["file"], "Send the bank's file as the multipart field `file`", code="missing")
        filename = upload.filename or "bank.csv"
        try:
            kind_of(filename)
        except UnreadableFile as exc:
            raise Invalid(["file"], str(exc)) from None
        data = await upload.read(MAX_BYTES + 1)
        if len(data) > MAX_BYTES:
            raise PayloadTooLarge(f"The file is larger than {MAX_BYTES // (1024 * 1024)} MB")
        try:
            header, rows = await asyncio.to_thread(_read, data, filename)
        except (UnreadableFile, ValueError) as exc:
            raise Invalid(["file"], str(exc)) from None
        return from_table(header, rows), f"file {filename[:150]}"
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise Invalid(["body"], "The body is neither JSON nor a multipart file") from None
    return from_json(body), "json"
