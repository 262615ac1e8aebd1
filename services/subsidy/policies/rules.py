"""A policy's dated amount rules (标准): who gets how much in which semesters, and who pays which part.

A rule is in force from a semester to a semester (`until` open-ended when null). In a semester the
rules in force are tried in their order: the first whose conditions a child meets sets the line's
amount and item; a one-off rule (e.g. 新生 / 升高中 bonus) already given to the child for its stage
is passed over, so the next rule (the ordinary standard) applies. Funding shares (分担比例:
central / provincial / county) are ratios on the rule; each line carries them in fen, summing
exactly to its amount (largest remainder, ties in the order central, provincial, county).

Grades are the national numbering 1-12 (初一 = 7, 高一 = 10): a junior or senior school that numbers
its grades 1-3 is read as 7-9 / 10-12. A new entrant (新生) is in the first grade of its stage.
"""

from decimal import Decimal
from fractions import Fraction

from pydantic import Field, StrictInt, ValidationInfo, field_validator, model_validator

from services.contracts.calendar import BadSemester, Semester
from services.contracts.vocabulary import Category, FundingShare, HardshipLevel, Stage
from services.kit.schemas import InputModel, OutputModel

SHARE_ORDER = tuple(FundingShare)
# The first grade of each stage in the national numbering (a special school: each of its stages).
ENTRY_GRADES = (1, 7, 10)
ITEM_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$"
LEGACY_ITEM = "STD"


class RuleIn(InputModel):
    """One amount rule of a policy (see the module's doc for how rules combine)."""

    code: str = Field(pattern=ITEM_PATTERN, description="The item code lines carry", examples=["STD"])
    name: str | None = Field(default=None, max_length=100, examples=["寄宿生生活补助"])
    from_semester: str = Field(description="First semester in force", examples=["2019-autumn"])
    until_semester: str | None = Field(
        default=None, description="Last semester in force; null = open-ended", examples=["2024-spring"]
    )
    amount_fen: StrictInt = Field(gt=0, le=10**9, description="Per semester (or once, if one_off), in fen")
    stages: list[Stage] = Field(default_factory=list, description="Only these stages; empty = any")
    grades: list[StrictInt] = Field(
        default_factory=list, description="Only these grades (national numbering 1-12); empty = any"
    )
    boarding: bool | None = Field(default=None, description="true: boarders only; false: day pupils only")
    new_entrant: bool | None = Field(
        default=None, description="true: only new entrants (新生, first grade of the stage); false: others"
    )
    categories: list[Category] = Field(
        default_factory=list, description="Only children with one of these aid categories; empty = any"
    )
    min_hardship_level: HardshipLevel | None = Field(
        default=None, description="Only children whose approved hardship level is at least this"
    )
    one_off: bool = Field(default=False, description="Paid once per child and stage (never twice)")
    shares: dict[FundingShare, Decimal] | None = Field(
        default=None,
        description="Funding ratios (分担比例), e.g. {central: 0.8, provincial: 0.1, county: 0.1} or 8/1/1",
        examples=[{"central": 0.8, "provincial": 0.1, "county": 0.1}],
    )

    @field_validator("from_semester", "until_semester")
    @classmethod
    def _semester(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            return str(Semester.parse(value))
        except BadSemester as exc:
            raise ValueError(str(exc)) from None

    @field_validator("grades")
    @classmethod
    def _grades(cls, value: list[int]) -> list[int]:
        if any(not 1 <= g <= 12 for g in value):
            raise ValueError("grades are 1-12 (national numbering: 初一 = 7, 高一 = 10)")
        return sorted(set(value))

    @field_validator("shares")
    @classmethod
    def _shares(cls, value: dict | None) -> dict | None:
        if value is None:
            return None
        if any(v < 0 or v.as_tuple().exponent < -6 or v > 10**6 for v in value.values()):
            raise ValueError("each share is a ratio between 0 and 1000000 (at most 6 decimals)")
        if sum(value.values()) <= 0:
            raise ValueError("at least one share must be above zero")
        return value

    @field_validator("until_semester")
    @classmethod
    def _range(cls, value: str | None, info: ValidationInfo) -> str | None:
        start = info.data.get("from_semester")
        if value and start and Semester.parse(value) < Semester.parse(start):
            raise ValueError("until_semester is before from_semester")
        return value

    @model_validator(mode="after")
    def _sorted(self):
        self.stages = sorted(set(self.stages))
        self.categories = sorted(set(self.categories))
        return self


class RulePublic(OutputModel):
    code: str
    name: str | None = None
    from_semester: str
    until_semester: str | None = None
    amount_fen: int
    stages: list[Stage] = Field(default_factory=list)
    grades: list[int] = Field(default_factory=list)
    boarding: bool | None = None
    new_entrant: bool | None = None
    categories: list[Category] = Field(default_factory=list)
    min_hardship_level: HardshipLevel | None = None
    one_off: bool = False
    shares: dict[FundingShare, float] | None = None


def stored(rules: list[RuleIn]) -> list[dict]:
    """Rules as kept in the policy row (JSON; ratios as exact decimal strings)."""
    out = []
    for rule in rules:
        row = rule.model_dump(mode="json")
        if rule.shares is not None:
            row["shares"] = {str(k): str(v.normalize()) for k, v in rule.shares.items()}
        out.append(row)
    return out


def public(rules: list[dict]) -> list[RulePublic]:
    return [
        RulePublic.model_validate(
            r
            | {"shares": {k: float(Decimal(v)) for k, v in r["shares"].items()} if r.get("shares") else None}
        )
        for r in rules
    ]


def validate_rules(rules: list[RuleIn]) -> None:
    """Raise ValueError unless item codes are unique within the policy."""
    codes = [r.code for r in rules]
    if len(set(codes)) != len(codes):
        raise ValueError("rule codes must be unique within a policy")


def legacy_rules(years: list[int], amount_fen: int) -> list[dict]:
    """The rules of a flat policy (`years` + `amount_fen`): one per run of consecutive years."""
    runs: list[list[int]] = []
    for year in sorted(set(years)):
        if runs and runs[-1][1] == year - 1:
            runs[-1][1] = year
        else:
            runs.append([year, year])
    return [
        {
            "code": LEGACY_ITEM if i == 0 else f"{LEGACY_ITEM}-{i + 1}",
            "name": None,
            "from_semester": f"{first}-spring",
            "until_semester": f"{last}-autumn",
            "amount_fen": amount_fen,
            "stages": [],
            "grades": [],
            "boarding": None,
            "new_entrant": None,
            "categories": [],
            "min_hardship_level": None,
            "one_off": False,
            "shares": None,
        }
        for i, (first, last) in enumerate(runs)
    ]


def is_legacy(rules: list[dict]) -> bool:
    """Whether the rules say no more than `years` + `amount_fen` can (one amount, no conditions)."""
    plain = all(
        not r["stages"] and not r["grades"] and r["boarding"] is None and r["new_entrant"] is None
        and not r["categories"] and r["min_hardship_level"] is None and not r["one_off"] and not r["shares"]
        and r["from_semester"].endswith("spring") and (r["until_semester"] or "").endswith("autumn")
        for r in rules
    )  # fmt: skip
    return plain and len({r["amount_fen"] for r in rules}) == 1


def in_force(rules: list[dict], semester: str) -> list[dict]:
    """The rules in force in a semester, in their order."""
    sem = Semester.parse(semester)
    return [
        r
        for r in rules
        if Semester.parse(r["from_semester"]) <= sem
        and (r["until_semester"] is None or sem <= Semester.parse(r["until_semester"]))
    ]


def years_of(rules: list[dict], *, open_until: int) -> list[int]:
    """Calendar years in which some rule is in force (an open-ended rule: through `open_until`)."""
    years: set[int] = set()
    for r in rules:
        first = Semester.parse(r["from_semester"]).year
        last = Semester.parse(r["until_semester"]).year if r["until_semester"] else max(first, open_until)
        years.update(range(first, last + 1))
    return sorted(years)


def headline_amount(rules: list[dict], semester: str) -> int:
    """The amount old clients read as the policy's `amount_fen`: the first rule in force now, else
    the newest rule's."""
    now = in_force(rules, semester)
    if now:
        return now[0]["amount_fen"]
    return max(rules, key=lambda r: Semester.parse(r["from_semester"]))["amount_fen"]


def split(amount_fen: int, ratios: dict[str, str | Decimal | int] | None) -> dict[str, int] | None:
    """Split an amount by funding ratios into fen summing exactly to it (largest remainder).

    Each share gets the floor of its exact part; the fen left over go one each to the shares with
    the largest fractional parts, ties in the order central, provincial, county. Deterministic.
    """
    if not ratios:
        return None
    weights = {k: Fraction(str(v)) for k, v in ratios.items()}
    total = sum(weights.values())
    exact = {k: amount_fen * w / total for k, w in weights.items()}
    out = {k: int(v.numerator // v.denominator) for k, v in exact.items()}
    left = amount_fen - sum(out.values())
    order = sorted(exact, key=lambda k: (-(exact[k] - out[k]), SHARE_ORDER.index(FundingShare(k))))
    for k in order[:left]:
        out[k] += 1
    return {k: out[k] for k in sorted(out, key=lambda k: SHARE_ORDER.index(FundingShare(k)))}
