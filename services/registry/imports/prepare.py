"""Turn file rows into validated request bodies with the single-record schemas (pure; runs off the loop).

Each row becomes the JSON body its single-record endpoint takes, then that
endpoint's pydantic schema validates it, so the rules live in one place. A
failing row yields errors naming the row number and the column as the file
names it.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ValidationError

from services.kit.crypto import id_cipher
from services.kit.settings import get_settings
from services.registry.areas.schemas import AreaCreate
from services.registry.households.schemas import HouseholdCreate
from services.registry.imports import labels
from services.registry.imports.columns import Layout
from services.registry.imports.gcpause import paused_gc
from services.registry.schools.schemas import SchoolCreate
from services.registry.students.schemas import StudentCreate
from services.registry.students.service import own_fields

DATE_PARTS = re.compile(r"^(\d{4})\D?(\d{1,2})\D?(\d{1,2})\D?$")
STATUS_ITEM = re.compile(r"[:：]")
NUL = "must not contain NUL characters"


@dataclass
class Row:
    """One valid row: its number, the validated body (students: its stored fields), the columns it filled."""

    number: int
    data: BaseModel | None
    given: frozenset[str]
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass
class Prepared:
    rows: list[Row] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


class CellError(ValueError):
    def __init__(self, field: str, msg: str):
        super().__init__(msg)
        self.field, self.msg = field, msg


def iso_date(value: str) -> str:
    """Read 2015-03-15, 2015/3/15, 2015.03.15, 20150315 or 2015年3月15日 as an ISO date."""
    m = DATE_PARTS.match(value.strip())
    return f"{m[1]}-{int(m[2]):02d}-{int(m[3]):02d}" if m else value


def _year_or_date(value: str) -> str:
    value = value.strip()
    return f"{value}-01-01" if len(value) == 4 and value.isdigit() else iso_date(value)


def household_statuses(value: str) -> list[dict[str, Any]]:
    """Parse `kind:since[:until]` items separated by ; (years mean 1 January)."""
    out = []
    for item in re.split(r"[;；,，、|\n]+", value.strip()):
        if not item.strip():
            continue
        parts = [p.strip() for p in STATUS_ITEM.split(item)]
        if len(parts) not in (2, 3) or not parts[1]:
            raise CellError("statuses", f"'{item.strip()}' is not kind:since[:until]")
        status = {
            "kind": labels.code_for(parts[0], labels.HOUSEHOLD_KIND_LABELS),
            "since": _year_or_date(parts[1]),
        }
        if len(parts) == 3 and parts[2]:
            status["until"] = _year_or_date(parts[2])
        out.append(status)
    return out


def _disability(cells: dict[str, str]) -> dict[str, Any] | None:
    if "disability_category" not in cells and "disability_grade" not in cells:
        return None
    out: dict[str, Any] = {}
    if "disability_category" in cells:
        out["category"] = labels.code_for(cells["disability_category"], labels.DISABILITY_LABELS)
    if "disability_grade" in cells:
        out["grade"] = labels.grade_number(cells["disability_grade"])
    return out


def student_body(cells: dict[str, str]) -> dict[str, Any]:
    """Build the body of POST /students from a row's non-blank cells."""
    body: dict[str, Any] = {
        k: cells[k] for k in ("name", "id_number", "ethnicity", "student_number") if k in cells
    }
    if "gender" in cells:
        body["gender"] = labels.code_for(cells["gender"], labels.GENDER_LABELS)
    if "birth_date" in cells:
        body["birth_date"] = iso_date(cells["birth_date"])
    if "groups" in cells:
        body["groups"] = [labels.code_for(g, labels.GROUP_LABELS) for g in labels.split_list(cells["groups"])]
    if (disability := _disability(cells)) is not None:
        body["disability"] = disability
    enrollment: dict[str, Any] = {k: cells[k] for k in ("school_code", "class_name") if k in cells}
    if "stage" in cells:
        enrollment["stage"] = labels.stage_code(cells["stage"])
    if "grade" in cells:
        enrollment["grade"] = labels.grade_number(cells["grade"])
    if "boarding" in cells:
        enrollment["boarding"] = labels.boolean(cells["boarding"])
    if "status" in cells:
        enrollment["status"] = labels.status_code(cells["status"])
    body["enrollment"] = enrollment
    return body


def household_body(cells: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {k: cells[k] for k in ("head_name", "area_code") if k in cells}
    if "household_platform_id" in cells:
        body["platform_id"] = cells["household_platform_id"]
    if "statuses" in cells:
        body["statuses"] = household_statuses(cells["statuses"])
    return body


def school_body(cells: dict[str, str]) -> dict[str, Any]:
    body: dict[str, Any] = {k: cells[k] for k in ("code", "name", "area_code") if k in cells}
    if "ownership" in cells:
        body["ownership"] = labels.code_for(cells["ownership"], labels.OWNERSHIP_LABELS)
    if "stages" in cells:
        body["stages"] = [labels.stage_code(s) for s in labels.split_list(cells["stages"])]
    return body


def area_body(cells: dict[str, str]) -> dict[str, Any]:
    return {k: cells[k] for k in ("code", "name") if k in cells}


BODIES = {"students": student_body, "households": household_body, "schools": school_body, "areas": area_body}
SCHEMAS: dict[str, type[BaseModel]] = {
    "students": StudentCreate,
    "households": HouseholdCreate,
    "schools": SchoolCreate,
    "areas": AreaCreate,
}
# Where a schema's error location points in the file.
LOC_FIELDS = {
    ("disability", "category"): "disability_category",
    ("disability", "grade"): "disability_grade",
    ("disability",): "disability_category",
    ("platform_id",): "household_platform_id",
}


def field_of(loc: tuple, msg: str, layout: Layout) -> str:
    """Return the field a schema error is about (model-level errors: the field the message names)."""
    parts = tuple(p for p in loc if isinstance(p, str))
    if parts[:1] == ("enrollment",):
        parts = parts[1:]
    if parts:
        return LOC_FIELDS.get(parts[:2], LOC_FIELDS.get(parts[:1], parts[0]))
    for name in layout.index:
        if msg.startswith(name):
            return name
    return ""


def schema_errors(exc: ValidationError, number: int, layout: Layout) -> list[dict[str, Any]]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        ctx = err.get("ctx") or {}
        msg = str(ctx["error"]) if isinstance(ctx.get("error"), Exception) else err["msg"]
        out.append(
            {"row": number, "field": layout.column_name(field_of(err["loc"], msg, layout)), "msg": msg}
        )
    return out


def prepare(layout: Layout, rows: list[tuple[int, list[str]]]) -> Prepared:
    """Validate rows with the kind's create schema; students also get the ID number's ciphertext and hash."""
    with paused_gc():
        return _prepare(layout, rows)


def _prepare(layout: Layout, rows: list[tuple[int, list[str]]]) -> Prepared:
    out = Prepared()
    schema, body_of = SCHEMAS[layout.kind], BODIES[layout.kind]
    cipher = id_cipher(get_settings()) if layout.kind == "students" else None
    for number, cells in rows:
        values = {f: cells[i].strip() for f, i in layout.index.items() if i < len(cells) and cells[i].strip()}
        bad = [f for f, v in values.items() if "\x00" in v]
        if bad:
            out.errors += [{"row": number, "field": layout.column_name(f), "msg": NUL} for f in bad]
            continue
        try:
            data = schema.model_validate(body_of(values))
        except CellError as exc:
            out.errors.append({"row": number, "field": layout.column_name(exc.field), "msg": exc.msg})
            continue
        except ValidationError as exc:
            out.errors += schema_errors(exc, number, layout)
            continue
        if cipher is None:
            out.rows.append(Row(number, data, frozenset(values)))
            continue
        # Students travel as plain fields (cheap to send back from a worker process), not as models.
        extra = own_fields(data) | {
            "id_number_enc": cipher.encrypt(data.id_number),
            "id_number_hash": cipher.lookup_hash(data.id_number),
            "school_code": data.enrollment.school_code,
            "household_platform_id": values.get("household_platform_id"),
        }
        out.rows.append(Row(number, None, frozenset(values), extra))
    return out
