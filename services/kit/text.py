"""Text a person typed that other people will read: names without hidden or direction-changing characters.

A right-to-left override (U+202E) makes `王明‮gpj.exe` read differently from what is stored; a
zero-width space makes two names that look the same compare different (a duplicate household that
no one can see); a name of only invisible characters shows as a blank line on a public notice. So a
person's name refuses every control and format character (bidi controls, zero-width characters, the
BOM, soft hyphens, tag characters), the invisible fillers that are letters by category (Hangul
fillers, the braille blank), variation selectors, unassigned and private-use code points, and text
that is nothing but whitespace once those are gone.
"""

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# Letters and symbols by category, yet drawn as nothing.
INVISIBLE = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e\u034f\u17b4\u17b5")
REFUSED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
VARIATION_SELECTORS = re.compile("[\ufe00-\ufe0f\U000e0100-\U000e01ef]")
USERNAME_PATTERN = r"^[a-z0-9._-]{3,64}$"


def hidden_character(text: str) -> str | None:
    """Return the first character of `text` a reader cannot see or that reorders it, or None."""
    for char in text:
        if (char in INVISIBLE or unicodedata.category(char) in REFUSED_CATEGORIES
                or VARIATION_SELECTORS.match(char)):
            return char
    return None


def name_problem(text: str) -> str | None:
    """Return why `text` is not acceptable as a person's name, or None."""
    if (char := hidden_character(text)) is not None:
        return (f"must not contain invisible or direction-changing characters "
                f"(found U+{ord(char):04X} {unicodedata.name(char, 'unnamed')})")
    if not text.strip():
        return "must contain visible characters"
    return None


def _person_name(value: str) -> str:
    if (problem := name_problem(value)) is not None:
        raise ValueError(problem)
    return value


PersonName = Annotated[str, AfterValidator(_person_name)]
