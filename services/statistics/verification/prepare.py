"""Roster rows → COPY text: validate each ID number, hash it (keyed), mask it. Runs in worker processes.

Stdlib only, so spawned workers start fast. The keyed hash is the registry's
(HMAC-SHA256 of the upper-cased ID number under the deployment's MAC key),
computed from precomputed pad states: about twice as fast as `hmac.new` per row.
"""

import csv
import hashlib
import io
import unicodedata
from array import array
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from operator import itemgetter, mul

from services.statistics.verification.columns import Layout, parse_gender, parse_statuses

COPY_COLUMNS = (
    "row_number",
    "household_platform_id",
    "name",
    "declared_gender",
    "id_number_hash",
    "id_number_masked",
    "birth_date",
    "gender",
    "statuses",
)
PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 "
    "71 81 82".split()
)
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ZERO = 48 * sum(WEIGHTS)  # the weighted sum of the ASCII codes' '0' offsets
CHECK = "10X98765432"
ODD = frozenset("13579")
NULL = "\\N"
ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


@dataclass
class Prepared:
    """A chunk ready to COPY: text lines, the valid rows' numbers and hash keys (for duplicates), errors."""

    data: bytes = b""
    rows: array = field(default_factory=lambda: array("q"))
    keys: array = field(default_factory=lambda: array("q"))
    errors: list[dict] = field(default_factory=list)
    count: int = 0


@lru_cache(maxsize=4)
def _pads(mac_key: bytes) -> tuple:
    key = mac_key.ljust(64, b"\0")
    return hashlib.sha256(bytes(b ^ 0x36 for b in key)), hashlib.sha256(bytes(b ^ 0x5C for b in key))


@lru_cache(maxsize=65536)
def _birth(digits: str) -> date | None:
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:8]))
    except ValueError:
        return None


def id_problem(value: str, today: date) -> str | None:
    """Return what is wrong with an upper-cased 18-character ID number, or None."""
    if len(value) != 18:
        return f"must be 18 characters, got {len(value)}"
    if not value[:17].isdigit() or not (value[17].isdigit() or value[17] == "X"):
        return "must be 17 digits followed by a digit or X"
    if value[:2] not in PROVINCES:
        return f"unknown province code {value[:2]}"
    birth = _birth(value[6:14])
    if birth is None or birth > today or birth.year < 1900:
        return f"birth date {value[6:14]} is impossible"
    if CHECK[(sum(map(mul, value[:17].encode(), WEIGHTS)) - ZERO) % 11] != value[17]:
        return "check digit is wrong"
    return None


def _text(value: str) -> str:
    if "\\" in value or "\t" in value or "\n" in value or "\r" in value:
        return value.translate(ESCAPES)
    return value


def _getter(layout: Layout):
    """Return cells -> the five fields; a missing column or cell reads as the last (blank) padding cell."""
    width = max(p for p in layout.positions if p is not None) + 2
    get = itemgetter(*(-1 if p is None else p for p in layout.positions))
    blank = [""] * width
    return lambda cells: get(cells + blank)


def prepare(mac_key: bytes, layout: Layout, chunk: list[tuple[int, list[str]]], today: date) -> Prepared:
    """Validate and hash a chunk of (row number, cells); invalid rows become errors, never lines."""
    inner, outer = _pads(mac_key)
    fields = _getter(layout)
    out = Prepared(count=len(chunk))
    lines: list[str] = []
    for number, cells in chunk:
        household, name, raw, status_cell, gender_cell = fields(cells)
        household, name, raw = household.strip(), name.strip(), raw.strip()
        value = raw.upper() if raw.isascii() else unicodedata.normalize("NFKC", raw).upper().strip()
        problem = None
        if not household or len(household) > 40:
            problem = ("household_platform_id", "required, at most 40 characters")
        elif not name or len(name) > 50:
            problem = ("name", "required, at most 50 characters")
        elif msg := id_problem(value, today):
            problem = ("id_number", msg)
        statuses = parse_statuses(status_cell)
        if problem is None and isinstance(statuses, str):
            problem = ("statuses", statuses)
        declared = parse_gender(gender_cell) if gender_cell else ""
        if problem is None and declared is None:
            problem = ("gender", "must be male or female (男/女)")
        if problem is not None:
            out.errors.append({"row": number, "field": problem[0], "msg": problem[1]})
            continue
        h = inner.copy()
        h.update(value.encode())
        o = outer.copy()
        o.update(h.digest())
        digest = o.hexdigest()
        lines.append(
            f"{number}\t{_text(household)}\t{_text(name)}\t{declared or NULL}\t{digest}\t"
            f"{value[:6]}********{value[14:]}\t{value[6:10]}-{value[10:12]}-{value[12:14]}\t"
            f"{'male' if value[16] in ODD else 'female'}\t{{{','.join(statuses)}}}\n"
        )
        out.rows.append(number)
        out.keys.append(int(digest[:15], 16))
    out.data = "".join(lines).encode()
    return out


def prepare_range(
    mac_key: bytes,
    layout: Layout,
    path: str,
    span: tuple[int, int, int],
    encoding: str,
    today: date,
    sealed=None,
) -> Prepared:
    """Read a byte range of whole CSV lines (`span`: start, end, its first line's number); prepare it.

    `sealed` (a kit.crypto.FileCipher) reads the range of a sealed file, decrypting only its segments.
    """
    start, end, first_line = span
    if sealed is not None:
        data = sealed.read_range(path, start, end)
    else:
        with open(path, "rb") as f:
            f.seek(start)
            data = f.read(end - start)
    text = data.decode(encoding)
    rows = csv.reader(io.StringIO(text, newline=""))
    chunk = [(n, cells) for n, cells in enumerate(rows, start=first_line) if _filled(cells)]
    return prepare(mac_key, layout, chunk, today)


def _filled(cells: list[str]) -> bool:
    """Whether a row has any text (blank rows are skipped, as read_table does)."""
    return bool(cells) and (bool(cells[0].strip()) or any(c.strip() for c in cells))


def csv_spans(data: bytes, size: int) -> list[tuple[int, int, int]] | None:
    """Split a CSV's data lines into byte ranges of about `size`; None when a quoted field may span lines."""
    if b'"' in data or b"\n" not in data:
        return None
    spans, pos, line = [], data.index(b"\n") + 1, 2
    while pos < len(data):
        end = data.find(b"\n", pos + size)
        end = len(data) if end < 0 else end + 1
        spans.append((pos, end, line))
        line += data.count(b"\n", pos, end)
        pos = end
    return spans
