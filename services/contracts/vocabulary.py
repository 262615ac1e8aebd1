"""The domain's words, defined once: codes, their Chinese labels, and the aliases files may use.

Every service, import and roster reads a word through this module, so that 特困户 in a
registry import and 特困人员 in a platform roster are the same `tekun`. Stdlib only.
"""

from enum import StrEnum


class Stage(StrEnum):
    preschool = "preschool"
    primary = "primary"
    junior = "junior"
    senior = "senior"
    vocational = "vocational"
    higher = "higher"
    special = "special"


COMPULSORY_STAGES = (Stage.primary, Stage.junior)
# Compulsory age: 6..15 on 1 September of the school year (see calendar.school_year_start).
COMPULSORY_AGES = range(6, 16)

STAGE_NAMES = {
    Stage.preschool: "学前教育",
    Stage.primary: "小学",
    Stage.junior: "初中",
    Stage.senior: "普通高中",
    Stage.vocational: "中职",
    Stage.higher: "高等教育",
    Stage.special: "特殊教育",
}
STAGE_ALIASES = {
    "学前": Stage.preschool,
    "幼儿园": Stage.preschool,
    "学前教育": Stage.preschool,
    "小学": Stage.primary,
    "初中": Stage.junior,
    "高中": Stage.senior,
    "普通高中": Stage.senior,
    "中职": Stage.vocational,
    "高等教育": Stage.higher,
    "大学": Stage.higher,
    "特殊教育": Stage.special,
    "特教": Stage.special,
}


class EnrollmentStatus(StrEnum):
    enrolled = "enrolled"
    suspended = "suspended"
    deferred = "deferred"
    home_taught = "home_taught"
    out_of_county = "out_of_county"
    transferred_out = "transferred_out"
    graduated = "graduated"
    dropped_out = "dropped_out"
    deceased = "deceased"


ENROLLMENT_STATUS_NAMES = {
    EnrollmentStatus.enrolled: "在读",
    EnrollmentStatus.suspended: "休学",
    EnrollmentStatus.deferred: "缓学",
    EnrollmentStatus.home_taught: "送教上门",
    EnrollmentStatus.out_of_county: "县外就读",
    EnrollmentStatus.transferred_out: "转出",
    EnrollmentStatus.graduated: "毕业",
    EnrollmentStatus.dropped_out: "辍学",
    EnrollmentStatus.deceased: "死亡",
}
ENROLLMENT_STATUS_ALIASES = {
    "在读": EnrollmentStatus.enrolled,
    "在校": EnrollmentStatus.enrolled,
    "休学": EnrollmentStatus.suspended,
    "缓学": EnrollmentStatus.deferred,
    "送教上门": EnrollmentStatus.home_taught,
    "县外就读": EnrollmentStatus.out_of_county,
    "省外就读": EnrollmentStatus.out_of_county,
    "转出": EnrollmentStatus.transferred_out,
    "毕业": EnrollmentStatus.graduated,
    "辍学": EnrollmentStatus.dropped_out,
    "死亡": EnrollmentStatus.deceased,
}
# Students who count as at school (送教上门 children are on their school's roll).
AT_SCHOOL = (EnrollmentStatus.enrolled, EnrollmentStatus.home_taught)


class Group(StrEnum):
    """A student's own special groups."""

    disabled = "disabled"
    left_behind = "left_behind"
    migrant = "migrant"
    learning_difficulty = "learning_difficulty"
    orphan = "orphan"


GROUP_ALIASES = {
    "留守儿童": Group.left_behind,
    "留守": Group.left_behind,
    "残疾": Group.disabled,
    "残疾儿童": Group.disabled,
    "残疾学生": Group.disabled,
    "孤儿": Group.orphan,
    "随迁子女": Group.migrant,
    "随迁": Group.migrant,
    "进城务工人员随迁子女": Group.migrant,
    "学困生": Group.learning_difficulty,
    "学困": Group.learning_difficulty,
}


class DisabilityCategory(StrEnum):
    visual = "visual"
    hearing = "hearing"
    speech = "speech"
    physical = "physical"
    intellectual = "intellectual"
    mental = "mental"
    multiple = "multiple"


_DISABILITY = {"视力": "visual", "听力": "hearing", "言语": "speech", "肢体": "physical",
               "智力": "intellectual", "精神": "mental", "多重": "multiple"}  # fmt: skip
DISABILITY_ALIASES = {k: DisabilityCategory(v) for k, v in _DISABILITY.items()} | {
    f"{k}残疾": DisabilityCategory(v) for k, v in _DISABILITY.items()
}


class HouseholdStatus(StrEnum):
    """Dated statuses of a household; the poverty platform is their source."""

    registered_poor = "registered_poor"
    lifted = "lifted"
    monitored = "monitored"
    dibao = "dibao"
    tekun = "tekun"


HOUSEHOLD_STATUS_NAMES = {
    HouseholdStatus.registered_poor: "建档立卡",
    HouseholdStatus.lifted: "脱贫",
    HouseholdStatus.monitored: "防返贫监测对象",
    HouseholdStatus.dibao: "农村低保",
    HouseholdStatus.tekun: "特困供养",
}
# One list for registry imports and platform rosters alike.
HOUSEHOLD_STATUS_ALIASES = {
    "建档立卡": HouseholdStatus.registered_poor,
    "建档立卡户": HouseholdStatus.registered_poor,
    "建档立卡贫困户": HouseholdStatus.registered_poor,
    "贫困户": HouseholdStatus.registered_poor,
    "原建档立卡": HouseholdStatus.registered_poor,
    "脱贫": HouseholdStatus.lifted,
    "脱贫户": HouseholdStatus.lifted,
    "已脱贫": HouseholdStatus.lifted,
    "监测对象": HouseholdStatus.monitored,
    "防返贫监测对象": HouseholdStatus.monitored,
    "监测户": HouseholdStatus.monitored,
    "低保": HouseholdStatus.dibao,
    "低保户": HouseholdStatus.dibao,
    "农村低保": HouseholdStatus.dibao,
    "特困": HouseholdStatus.tekun,
    "特困供养": HouseholdStatus.tekun,
    "特困户": HouseholdStatus.tekun,
    "特困人员": HouseholdStatus.tekun,
}


class Category(StrEnum):
    """Aid categories of a student, derived from its household's statuses and its own groups."""

    registered_poor = "registered_poor"
    monitored = "monitored"
    dibao = "dibao"
    tekun = "tekun"
    orphan = "orphan"
    disabled = "disabled"


CATEGORY_NAMES = {
    Category.registered_poor: "建档立卡(含原建档立卡)",
    Category.monitored: "防返贫监测对象",
    Category.dibao: "低保",
    Category.tekun: "特困供养",
    Category.orphan: "孤儿",
    Category.disabled: "残疾",
}
# Aid categories that come from the household (the platform's side of a child's eligibility).
HOUSEHOLD_CATEGORIES = (Category.registered_poor, Category.monitored, Category.dibao, Category.tekun)


def categories_of(*, groups: list[str], household_kinds: set[str] | None = None) -> list[str]:
    """Derive a student's aid categories from its household's statuses and its own groups."""
    kinds = household_kinds or set()
    out = set()
    if kinds & {HouseholdStatus.registered_poor, HouseholdStatus.lifted}:
        out.add(Category.registered_poor)  # lifted households stay eligible as 原建档立卡
    for kind in ("monitored", "dibao", "tekun"):
        if kind in kinds:
            out.add(Category(kind))
    if Group.orphan in groups:
        out.add(Category.orphan)
    if Group.disabled in groups:
        out.add(Category.disabled)
    return sorted(out)


class Ownership(StrEnum):
    public = "public"
    affordable_private = "affordable_private"
    private = "private"


OWNERSHIP_ALIASES = {
    "公办": Ownership.public,
    "民办": Ownership.private,
    "普惠性民办": Ownership.affordable_private,
}

GENDER_ALIASES = {"男": "male", "女": "female", "m": "male", "f": "female",
                  "male": "male", "female": "female"}  # fmt: skip


class PolicyKind(StrEnum):
    """The five kinds 奖贷助补免."""

    scholarship = "scholarship"
    loan = "loan"
    grant = "grant"
    living_allowance = "living_allowance"
    waiver = "waiver"


POLICY_KIND_NAMES = {
    PolicyKind.scholarship: "奖学金",
    PolicyKind.loan: "助学贷款",
    PolicyKind.grant: "助学金",
    PolicyKind.living_allowance: "生活补助",
    PolicyKind.waiver: "免学杂费",
}


class ExclusionReason(StrEnum):
    """Why an eligible-looking student has no line in a batch (every one is listed, 不漏)."""

    status = "status"
    stage = "stage"
    category = "category"
    boarding = "boarding"
    already_paid = "already_paid"
    already_in_batch = "already_in_batch"
    objection = "objection"
    not_eligible = "not_eligible"


EXCLUSION_REASON_NAMES = {
    ExclusionReason.status: "学籍状态不在读",
    ExclusionReason.stage: "学段不符合该政策",
    ExclusionReason.category: "不属于该政策资助对象类别",
    ExclusionReason.boarding: "不符合寄宿条件",
    ExclusionReason.already_paid: "本学期已在其他批次发放",
    ExclusionReason.already_in_batch: "本学期已列入其他批次",
    ExclusionReason.objection: "公示异议成立，已移出名单",
    ExclusionReason.not_eligible: "已不符合资助条件",
}


class CaseSource(StrEnum):
    """What opened a dropout case."""

    absences = "absences"
    enrollment = "enrollment"
    verification = "verification"
    manual = "manual"


def code_for(value: str, aliases: dict[str, str]) -> str:
    """Return the code of a label or alias (or the value itself, left for the schema to judge)."""
    text = value.strip()
    found = aliases.get(text) or aliases.get(text.lower())
    return str(found) if found is not None else text
