"""Likely matches by name: the same child under a mistyped ID number, found by pinyin.

Similarity of two names (0..1): 1.0 the same characters; 0.95 the same toneless
pinyin (homophones, 王小明 / 王晓明); 0.9 the same pinyin up to the usual
confusions (zh/z, ch/c, sh/s, n/l, -ng/-n); otherwise 0.85 × the
SequenceMatcher ratio of the pinyin. A candidate with at least LIKELY whose name
differs from the roster's in at most one syllable (after those confusions) is a
likely match (so names of different lengths never are: candidates are paired by
equal length in SQL). Pinyin is taken character by character (cached), which for
names is what whole-name conversion gives and is a hundred times cheaper.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass
from difflib import SequenceMatcher
from functools import lru_cache

from pypinyin import lazy_pinyin

LIKELY = 0.8
VIA_RANK = {"household": 0, "birth_date": 1}
_INITIALS = re.compile(r"^(zh|ch|sh|l)")
_FINALS = re.compile(r"(ing|eng|ang)$")


@lru_cache(maxsize=65536)
def _syllable(char: str) -> str:
    return lazy_pinyin(char)[0].lower()


def syllables(name: str) -> tuple[str, ...]:
    """Toneless pinyin of a name, character by character (other characters kept, lower-cased)."""
    return tuple(_syllable(c) for c in name if not c.isspace())


@lru_cache(maxsize=4096)
def _loose(syllable: str) -> str:
    syllable = _INITIALS.sub(lambda m: {"zh": "z", "ch": "c", "sh": "s", "l": "n"}[m.group(1)], syllable)
    return _FINALS.sub(lambda m: m.group(1)[:-1], syllable)


def similarity(a: str, b: str, *, at_least: float = 0.0) -> float:
    """Return how alike two names are (see the module's rule); 0.0 when surely below `at_least`."""
    a, b = a.strip(), b.strip()
    if a == b:
        return 1.0
    pa, pb = syllables(a), syllables(b)
    if pa == pb:
        return 0.95
    la, lb = tuple(map(_loose, pa)), tuple(map(_loose, pb))
    if la == lb:
        return 0.9
    if at_least and (len(la) != len(lb) or sum(x != y for x, y in zip(la, lb, strict=True)) > 1):
        return 0.0  # more than one syllable apart: never a likely match
    matcher = SequenceMatcher(None, " ".join(la), " ".join(lb), autojunk=False)
    if 0.85 * matcher.real_quick_ratio() < at_least or 0.85 * matcher.quick_ratio() < at_least:
        return 0.0  # the cheap upper bounds already fall short
    return round(0.85 * matcher.ratio(), 2)


# A registry student who may be a roster row's child: (row number, roster name, student id, student name,
# via) where via is household or birth_date.
Candidate = tuple[int, str, str, str, str]


@dataclass(frozen=True)
class Match:
    row_number: int
    student_id: str
    score: float
    via: str


def best_matches(candidates: Iterable[Candidate]) -> list[Match]:
    """Pair rows with likely students, best first; each row and each student used once (deterministic)."""
    scored = []
    for row, roster_name, student, student_name, via in candidates:
        score = similarity(roster_name, student_name, at_least=LIKELY)
        if score >= LIKELY:
            scored.append((-score, VIA_RANK[via], row, student, via))
    rows, students, out = set(), set(), []
    for neg, _, row, student, via in sorted(set(scored)):
        if row in rows or student in students:
            continue
        rows.add(row)
        students.add(student)
        out.append(Match(row, student, -neg, via))
    return out
