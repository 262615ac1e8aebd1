"""The common national student-aid policies, as bodies for POST /api/v1/subsidy/policies.

Amounts are per semester in fen (half the yearly standard). Where the standard is a provincial
average (senior-high grant) or a local fee (waivers), the figure is a typical one to adjust.
"""

# Households in difficulty as the aid rules name them.
DIFFICULTY = ["registered_poor", "monitored", "dibao", "tekun", "orphan", "disabled"]
# The "four categories" of compulsory education non-boarders (建档立卡、低保、特困、残疾).
FOUR_CATEGORIES = ["registered_poor", "dibao", "tekun", "disabled"]
YEARS = [2024, 2025, 2026, 2027]


def national_policies(years: list[int] | None = None) -> list[dict]:
    """Return the national policies as API bodies (POST them as an admin of the province)."""
    years = years or YEARS

    def policy(
        code: str, name: str, kind: str, stages: list[str], categories: list[str], amount_fen: int, **kw
    ):
        return {
            "code": code,
            "name": name,
            "kind": kind,
            "stages": stages,
            "categories": categories,
            "amount_fen": amount_fen,
            "years": years,
            **kw,
        }

    return [
        policy("CN-PRESCHOOL-AID", "学前教育幼儿资助", "grant", ["preschool"], DIFFICULTY, 50000),
        policy(
            "CN-LIVING-BOARD-PRIMARY",
            "义务教育家庭经济困难寄宿生生活补助（小学）",
            "living_allowance",
            ["primary"],
            DIFFICULTY,
            62500,  # 1250 元/年 since 2024
            boarding_only=True,
        ),
        policy(
            "CN-LIVING-BOARD-JUNIOR",
            "义务教育家庭经济困难寄宿生生活补助（初中）",
            "living_allowance",
            ["junior"],
            DIFFICULTY,
            75000,  # 1500 元/年 since 2024
            boarding_only=True,
        ),
        policy(
            "CN-LIVING-NONBOARD-PRIMARY",
            "义务教育家庭经济困难非寄宿生生活补助（小学）",
            "living_allowance",
            ["primary"],
            FOUR_CATEGORIES,
            31250,  # half the boarders' standard
            non_boarders_only=True,
        ),
        policy(
            "CN-LIVING-NONBOARD-JUNIOR",
            "义务教育家庭经济困难非寄宿生生活补助（初中）",
            "living_allowance",
            ["junior"],
            FOUR_CATEGORIES,
            37500,
            non_boarders_only=True,
        ),
        # National grants for senior high and vocational students: 2,300 元 a year on average since
        # autumn 2024 (raised from 2,000), i.e. 1,150 元 a semester.
        policy("CN-SENIOR-GRANT", "普通高中国家助学金", "grant", ["senior"], DIFFICULTY, 115000),
        policy("CN-SENIOR-WAIVER", "普通高中免学杂费", "waiver", ["senior"], DIFFICULTY, 40000),
        policy("CN-VOCATIONAL-GRANT", "中等职业教育国家助学金", "grant", ["vocational"], DIFFICULTY, 115000),
        policy("CN-VOCATIONAL-WAIVER", "中等职业教育免学费", "waiver", ["vocational"], [], 100000),
    ]
