"""What the provincial platform may see of an event: its subject and its minimised, versioned form.

The internal events (`edu.<service>.<entity>.<event>`) carry what the services need: people's names,
birth dates, the keyed hash of their ID number, who did what, free-text notes. A platform subscriber is
scoped to an area and needs the facts, not the people: the platform form keeps ids, codes, statuses,
kinds, dates and amounts, masks any ID number, and drops names of people, birth dates, lookup hashes,
actors and free text (at any depth; a field added later under one of these names is dropped too).
`PLATFORM_VERSION` changes whenever this form does.
"""

import re
from typing import Any

from services.kit.crypto import mask_id_number, mask_student_number

PLATFORM_VERSION = 1
# Entities whose `name` is public (an area's, a school's), not a person's.
PUBLIC_NAMES = frozenset({"area", "school"})
DROPPED = re.compile(
    r"(^|_)(name|names|birth_date|birthday|hash|username|actor|note|notes|reason|details|phone|address"
    r"|remark|remarks|comment|comments|guardian|payee|account|bank_account|disability|ethnicity)$"
    r"|_by$"
)
ID_FIELDS = re.compile(r"(^|_)id_number$")
MISSING = "_"  # the subject token of an area level an event does not name


def county_tokens(area_code: str | None) -> tuple[str, str, str] | None:
    """Return the province, city and county tokens of an area (`_` for levels it lies above)."""
    if not area_code or not area_code.isdigit() or len(area_code) < 2:
        return None
    return (
        area_code[:2],
        area_code[:4] if len(area_code) >= 4 else MISSING,
        area_code[:6] if len(area_code) >= 6 else MISSING,
    )


def subject_for(event: dict[str, Any], prefix: str = "platform") -> str | None:
    """Return `<prefix>.<province>.<city>.<county>.<service>.<entity>.<event>`, or None (no area)."""
    tokens = county_tokens(event.get("area_code"))
    parts = str(event.get("type", "")).split(".")
    if tokens is None or len(parts) != 4 or not all(re.fullmatch(r"[a-z_]+", p) for p in parts[1:]):
        return None
    return ".".join((prefix, *tokens, *parts[1:]))


def scope_subject(area_code: str, prefix: str = "platform") -> str:
    """Return the subscribe permission of a client scoped to an area (2, 4 or 6 digits)."""
    tokens = county_tokens(area_code)
    assert tokens is not None, area_code
    kept = [t for t in tokens if t != MISSING][: {2: 1, 4: 2}.get(len(area_code), 3)]
    return ".".join((prefix, *kept, ">"))


def _clean(value: Any, *, keep_name: bool) -> Any:
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if ID_FIELDS.search(key) and isinstance(item, str):
                out[f"{key}_masked"] = mask_id_number(item)
            elif key == "student_number" and isinstance(item, str):
                out[key] = mask_student_number(item)  # usually G + the ID number
            elif key == "name" and keep_name:
                out[key] = item
            elif not DROPPED.search(key):
                out[key] = _clean(item, keep_name=False)
        return out
    if isinstance(value, list):
        return [_clean(v, keep_name=False) for v in value]
    return value


def minimise(event: dict[str, Any]) -> dict[str, Any]:
    """Return the platform form of an internal event (as it travels, JSON-ready)."""
    parts = str(event.get("type", "")).split(".")
    entity = parts[2] if len(parts) == 4 else ""
    return {
        "id": event.get("id"),
        "type": event.get("type"),
        "platform_version": PLATFORM_VERSION,
        "schema_version": event.get("schema_version", 1),
        "time": event.get("time"),
        "subject": event.get("subject"),
        "area_code": event.get("area_code"),
        "school_code": event.get("school_code"),
        "version": event.get("version"),
        "data": _clean(event.get("data") or {}, keep_name=entity in PUBLIC_NAMES),
    }
