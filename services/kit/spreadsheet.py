"""Spreadsheets in and out: read CSV/XLSX as a header and a stream of rows; neutralise formulas.

Reading streams (CSV through the csv module, XLSX through openpyxl's read-only
mode), so a big file never becomes a list of dicts. Row numbers are the ones a
spreadsheet user sees: the header is row 1, the first data row is row 2.

Reading is bounded: openpyxl holds every shared string in memory and builds each
cell's text whole, so an XLSX's parts are measured inside the zip before it
parses anything (a 400 KB file can carry a 400 MB cell), and every cell, row
width and row count has a ceiling; past one the file is refused as unreadable.
"""

import codecs
import csv
import io
import os
import zipfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import IO, Any

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
CSV_ENCODINGS = ("utf-8-sig", "gb18030")
Source = bytes | str | os.PathLike

MAX_CELL_CHARS = 1000  # no field we read is longer; a longer cell is an error or an attack
MAX_COLUMNS = 200
MAX_TABLE_ROWS = 1_048_576  # Excel's own limit; callers cap lower
# XLSX parts, measured from the zip directory before openpyxl reads them. Shared strings are
# loaded whole; sheets stream, but one cell's XML is built whole, so both are capped.
MAX_SHARED_STRINGS_BYTES = 64 * 1024 * 1024
MAX_PART_BYTES = 512 * 1024 * 1024
MAX_TOTAL_BYTES = 1024 * 1024 * 1024
MAX_RATIO = 100  # deflated XML of real sheets shrinks 5-20 times; a bomb shrinks 1000 times
RATIO_FROM_BYTES = 4 * 1024 * 1024


class UnreadableFile(ValueError):
    """The file is not a CSV or XLSX we can read."""


def safe_cell(value: Any) -> Any:
    """Return a value safe to put in a spreadsheet cell: text that starts a formula gets a leading '."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def cell_text(value: Any) -> str:
    """Render one XLSX cell value as the text a user typed (18-digit IDs, dates, booleans)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == time() else value.isoformat()
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value)


@dataclass
class Table:
    """A sheet: its header and a one-pass stream of (row number, cells), blank rows skipped."""

    header: list[str]
    rows: Iterator[tuple[int, list[str]]]
    _closers: list[Any] = field(default_factory=list, repr=False)

    def close(self) -> None:
        for closer in self._closers:
            closer()
        self._closers.clear()

    def __enter__(self) -> "Table":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def kind_of(filename: str) -> str:
    """Return 'csv' or 'xlsx' from a file name, or raise UnreadableFile."""
    suffix = Path(filename or "").suffix.lower()
    if suffix in (".csv", ".txt"):
        return "csv"
    if suffix in (".xlsx", ".xlsm"):
        return "xlsx"
    raise UnreadableFile(f"Unsupported file type {suffix or '(none)'}: upload a .csv or .xlsx file")


def _binary(source: Source) -> IO[bytes]:
    return io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")


def csv_encoding(source: Source) -> str:
    """Return the encoding of a CSV: UTF-8 (with or without BOM), else GB18030 (Excel in China)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    with _binary(source) as f:
        while block := f.read(1 << 20):
            try:
                decoder.decode(block)
            except UnicodeDecodeError:
                return "gb18030"
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8-sig"


def _csv_table(source: Source) -> Table:
    encoding = csv_encoding(source)
    binary = _binary(source)
    text = io.TextIOWrapper(binary, encoding=encoding, newline="")
    reader = csv.reader(text)
    try:
        header = next(reader, [])
        _check_cells(1, header)
    except (csv.Error, UnicodeDecodeError) as exc:
        text.close()
        raise UnreadableFile(f"Not a readable CSV file: {exc}") from exc
    except UnreadableFile:
        text.close()
        raise

    def rows() -> Iterator[tuple[int, list[str]]]:
        number = 1
        try:
            for cells in reader:
                number += 1
                if number > MAX_TABLE_ROWS:
                    raise UnreadableFile(f"The file has more than {MAX_TABLE_ROWS} rows")
                _check_cells(number, cells)
                if any(c.strip() for c in cells):
                    yield number, cells
        except (csv.Error, UnicodeDecodeError) as exc:
            raise UnreadableFile(f"Row {number + 1} is not readable CSV: {exc}") from exc
        finally:
            text.close()

    return Table(header=[h.strip() for h in header], rows=rows(), _closers=[text.close])


def column_name(index: int) -> str:
    """Return the spreadsheet letters of a 0-based column index (0 -> A, 27 -> AB)."""
    name = ""
    index += 1
    while index:
        index, rem = divmod(index - 1, 26)
        name = chr(65 + rem) + name
    return name


def _check_cells(number: int, cells: list[str]) -> None:
    if len(cells) > MAX_COLUMNS and any(c for c in cells[MAX_COLUMNS:]):
        raise UnreadableFile(f"Row {number} has more than {MAX_COLUMNS} columns")
    for i, text in enumerate(cells):
        if len(text) > MAX_CELL_CHARS:
            raise UnreadableFile(
                f"Cell {column_name(i)}{number} is longer than {MAX_CELL_CHARS} characters ({len(text)})")


def check_xlsx_parts(source: Source) -> None:
    """Refuse an XLSX whose parts would unpack too large (from the zip directory: nothing is inflated)."""
    try:
        with zipfile.ZipFile(io.BytesIO(source) if isinstance(source, bytes) else source) as archive:
            parts = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise UnreadableFile("Not a readable XLSX file") from exc
    if sum(p.file_size for p in parts) > MAX_TOTAL_BYTES:
        raise UnreadableFile(f"The XLSX unpacks to more than {MAX_TOTAL_BYTES >> 20} MB; split it")
    for part in parts:
        name = part.filename
        cap = MAX_SHARED_STRINGS_BYTES if name.lower().endswith("sharedstrings.xml") else MAX_PART_BYTES
        if part.file_size > cap:
            raise UnreadableFile(f"The XLSX part {name} unpacks to more than {cap >> 20} MB; split the file")
        if part.file_size > RATIO_FROM_BYTES and part.file_size > MAX_RATIO * max(part.compress_size, 1):
            raise UnreadableFile(
                f"The XLSX part {name} is compressed {part.file_size // max(part.compress_size, 1)} times "
                "(a cell far longer than any field?); save the sheet again without it")


def _xlsx_table(source: Source) -> Table:
    from openpyxl import load_workbook

    check_xlsx_parts(source)
    try:
        book = load_workbook(_binary(source), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds for a broken zip or XML
        raise UnreadableFile("Not a readable XLSX file") from exc
    sheet = book.worksheets[0]
    sheet.reset_dimensions()  # some writers store wrong dimensions; read what is there
    values = sheet.iter_rows(values_only=True)
    try:
        header = [cell_text(v).strip() for v in next(values, ())]
        _check_cells(1, header)
    except BaseException:
        book.close()
        raise
    while header and not header[-1]:
        header.pop()

    def rows() -> Iterator[tuple[int, list[str]]]:
        try:
            for number, raw in enumerate(values, start=2):
                if number > MAX_TABLE_ROWS:
                    raise UnreadableFile(f"The sheet has more than {MAX_TABLE_ROWS} rows")
                cells = [cell_text(v) for v in raw]
                _check_cells(number, cells)
                if any(c.strip() for c in cells):
                    yield number, cells
        finally:
            book.close()

    return Table(header=header, rows=rows(), _closers=[book.close])


def read_table(source: Source, filename: str) -> Table:
    """Open a CSV (UTF-8, UTF-8 with BOM or GB18030) or the first sheet of an XLSX as a Table."""
    return _csv_table(source) if kind_of(filename) == "csv" else _xlsx_table(source)


def count_rows(source: Source, filename: str) -> int:
    """Return the number of non-blank data rows (one streaming pass)."""
    with read_table(source, filename) as table:
        return sum(1 for _ in table.rows)


def write_xlsx(
    sheets: Sequence[tuple[str, Sequence[Any], Iterable[Sequence[Any]]]], *, text_columns: Sequence[int] = ()
) -> bytes:
    """Return an XLSX with one sheet per (title, header, rows), every text cell made formula-safe."""
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook(write_only=True)
    for title, header, rows in sheets:
        sheet = book.create_sheet(title)
        for index in text_columns:
            sheet.column_dimensions[get_column_letter(index + 1)].number_format = "@"
        for i, name in enumerate(header):
            sheet.column_dimensions[get_column_letter(i + 1)].width = max(12, 2 * len(str(name)) + 4)
        bold = Font(bold=True)
        cells = [WriteOnlyCell(sheet, value=safe_cell(h)) for h in header]
        for cell in cells:
            cell.font = bold
        sheet.append(cells)
        for row in rows:
            sheet.append([safe_cell(v) for v in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
