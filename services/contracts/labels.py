"""Every vocabulary of `vocabulary.py` with its Chinese and English labels, for clients and docs.

Read by `GET /api/v1/meta/labels` (one document, public and cacheable) and registered with the kit
(`kit.i18n.register_labels`) so that every service's OpenAPI enum carries `x-enum-labels`.
Stdlib only (besides the kit's stdlib-only `i18n`).
"""

from enum import StrEnum

from services.contracts import vocabulary as v
from services.kit import i18n

# Words with only aliases in `vocabulary` (read from files), named here once.
_EXTRA = {
    "Group": {"disabled": "残疾", "left_behind": "留守儿童", "migrant": "随迁子女",
              "learning_difficulty": "学困生", "orphan": "孤儿"},
    "DisabilityCategory": {"visual": "视力残疾", "hearing": "听力残疾", "speech": "言语残疾",
                           "physical": "肢体残疾", "intellectual": "智力残疾", "mental": "精神残疾",
                           "multiple": "多重残疾"},
    "Ownership": {"public": "公办", "affordable_private": "普惠性民办", "private": "民办"},
}  # fmt: skip


def _snake(name: str) -> str:
    return "".join(f"_{c}" if c.isupper() and i else c for i, c in enumerate(name)).upper()


def _english(value: str) -> str:
    return value.replace("_", " ").capitalize()


def vocabularies() -> dict[str, dict[str, dict[str, str]]]:
    """Return enum name → value → {"zh", "en"} for every vocabulary enum that has Chinese names."""
    out: dict[str, dict[str, dict[str, str]]] = {}
    for name, enum in sorted(vars(v).items()):
        if not (isinstance(enum, type) and issubclass(enum, StrEnum) and enum.__module__ == v.__name__):
            continue
        names = getattr(v, f"{_snake(name)}_NAMES", None) or _EXTRA.get(name) or {}
        out[name] = {
            member.value: {
                "zh": names.get(member, names.get(member.value, _english(member.value))),
                "en": _english(member.value),
            }
            for member in enum
        }
    return out


VOCABULARIES = vocabularies()
i18n.register_labels(
    {name: {k: lab["zh"] for k, lab in values.items()} for name, values in VOCABULARIES.items()}
)
