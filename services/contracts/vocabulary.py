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
# A special school's grades 1-9 are 义务教育 (grades 10+ are its senior/vocational classes).
SPECIAL_COMPULSORY_GRADES = range(1, 10)
# Compulsory age: 6..15 on 1 September of the school year (see calendar.school_year_start).
COMPULSORY_AGES = range(6, 16)
# 高中阶段 (stage 3): where a junior graduate continues (初升高 counts enrollments at these stages).
UPPER_SECONDARY_STAGES = (Stage.senior, Stage.vocational)


def compulsory_stage(stage: str | None, grade: int | None = None) -> bool:
    """Tell whether an enrollment is compulsory-stage (义务教育): primary, junior, special grades 1-9.

    The one rule for aid, figures and the consolidation rate: a special school's pupil in grade 4
    counts like a primary pupil; a special-stage enrollment without a grade does not count.
    """
    if stage in COMPULSORY_STAGES:
        return True
    return stage == Stage.special and grade is not None and grade in SPECIAL_COMPULSORY_GRADES


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


class ChangeKind(StrEnum):
    """Kinds of enrollment change (the steps of a student's history)."""

    enroll = "enroll"  # registration, or 升学: a graduate (or a child at no school) opens its next stage
    transfer = "transfer"
    suspend = "suspend"
    defer = "defer"
    home_teaching = "home_teaching"
    out_of_county = "out_of_county"
    graduate = "graduate"
    drop_out = "drop_out"
    return_ = "return"
    deceased = "deceased"


CHANGE_KIND_NAMES = {
    ChangeKind.enroll: "入学/升学",
    ChangeKind.transfer: "转学",
    ChangeKind.suspend: "休学",
    ChangeKind.defer: "缓学",
    ChangeKind.home_teaching: "送教上门",
    ChangeKind.out_of_county: "县外就读",
    ChangeKind.graduate: "毕业",
    ChangeKind.drop_out: "辍学",
    ChangeKind.return_: "复学",
    ChangeKind.deceased: "死亡",
}


class ProgressionStatus(StrEnum):
    """What became of a graduate (升学): enrolled at a next stage, or not (两后生 when poor)."""

    continued = "continued"
    not_continued = "not_continued"


PROGRESSION_STATUS_NAMES = {
    ProgressionStatus.continued: "已升学",
    ProgressionStatus.not_continued: "未升学",
}
# 两后生: junior or senior graduates of poor households who do not continue.
LIANGHOUSHENG_STAGES = (Stage.junior, Stage.senior)


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
    entry_grant = "entry_grant"  # one-off, once per student per stage


POLICY_KIND_NAMES = {
    PolicyKind.scholarship: "奖学金",
    PolicyKind.loan: "助学贷款",
    PolicyKind.grant: "助学金",
    PolicyKind.living_allowance: "生活补助",
    PolicyKind.waiver: "免学杂费",
    PolicyKind.entry_grant: "新生入学资助",
}
# Policy kinds paid once per student and stage, not once per semester.
ONE_OFF_POLICY_KINDS = (PolicyKind.entry_grant,)


class LineKind(StrEnum):
    """Where a disbursement line came from."""

    regular = "regular"
    back_pay = "back_pay"  # 补发
    history = "history"  # imported from the county's ledger (台账)
    repay = "repay"  # 补付: a failed line paid again (repays_id names it)


LINE_KIND_NAMES = {
    LineKind.regular: "正常发放",
    LineKind.back_pay: "补发",
    LineKind.history: "历史台账",
    LineKind.repay: "补付",
}


class LineStatus(StrEnum):
    """A disbursement line's status (it follows its batch; `failed` = the bank returned it)."""

    proposed = "proposed"
    draft = "draft"
    submitted = "submitted"
    approved = "approved"
    paid = "paid"
    failed = "failed"
    rejected = "rejected"
    cancelled = "cancelled"


LINE_STATUS_NAMES = {
    LineStatus.proposed: "待补发",
    LineStatus.draft: "草稿",
    LineStatus.submitted: "已提交",
    LineStatus.approved: "已审核",
    LineStatus.paid: "已发放",
    LineStatus.failed: "支付失败",
    LineStatus.rejected: "已退回",
    LineStatus.cancelled: "已取消",
}


class HardshipLevel(StrEnum):
    """家庭经济困难学生认定 levels, from the least to the most (an order: `HARDSHIP_RANK`)."""

    general = "general"  # 一般困难
    hard = "hard"  # 困难
    especially_hard = "especially_hard"  # 特别困难


HARDSHIP_LEVEL_NAMES = {
    HardshipLevel.general: "一般困难",
    HardshipLevel.hard: "困难",
    HardshipLevel.especially_hard: "特别困难",
}
HARDSHIP_LEVEL_ALIASES = {v: k for k, v in HARDSHIP_LEVEL_NAMES.items()} | {
    "一般": HardshipLevel.general,
    "比较困难": HardshipLevel.hard,
    "特困": HardshipLevel.especially_hard,
}
# A rule's minimum level is met by that level and every higher one.
HARDSHIP_RANK = {HardshipLevel.general: 1, HardshipLevel.hard: 2, HardshipLevel.especially_hard: 3}


class FundingShare(StrEnum):
    """Who pays which part of a line (分担比例): keys of a line's `shares` dict."""

    central = "central"
    provincial = "provincial"
    county = "county"


FUNDING_SHARE_NAMES = {
    FundingShare.central: "中央",
    FundingShare.provincial: "省级",
    FundingShare.county: "县级",
}


class LoanKind(StrEnum):
    """Student loans for higher education."""

    national = "national"  # 国家助学贷款 (at the university)
    origin_credit = "origin_credit"  # 生源地信用助学贷款 (from the home county)


LOAN_KIND_NAMES = {LoanKind.national: "国家助学贷款", LoanKind.origin_credit: "生源地信用助学贷款"}
LOAN_KIND_ALIASES = {v: k for k, v in LOAN_KIND_NAMES.items()} | {"生源地贷款": LoanKind.origin_credit}


class RepaymentStatus(StrEnum):
    in_school = "in_school"  # 在校贴息期
    grace = "grace"  # 宽限期
    repaying = "repaying"
    repaid = "repaid"
    overdue = "overdue"


REPAYMENT_STATUS_NAMES = {
    RepaymentStatus.in_school: "在校期间（财政贴息）",
    RepaymentStatus.grace: "宽限期",
    RepaymentStatus.repaying: "还款中",
    RepaymentStatus.repaid: "已结清",
    RepaymentStatus.overdue: "逾期",
}


class LetterStatus(StrEnum):
    """The follow-up letter (公函) about aid a child received in another county or province."""

    not_sent = "not_sent"
    sent = "sent"
    answered = "answered"
    overdue = "overdue"  # sent, unanswered past its due date


LETTER_STATUS_NAMES = {
    LetterStatus.not_sent: "未发函",
    LetterStatus.sent: "已发函",
    LetterStatus.answered: "已复函",
    LetterStatus.overdue: "逾期未复函",
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
    paid_elsewhere = "paid_elsewhere"
    hardship = "hardship"  # no approved hardship level (or a lower one than the policy requires)
    no_rule = "no_rule"  # the policy has no amount rule for this child in the semester


EXCLUSION_REASON_NAMES = {
    ExclusionReason.status: "学籍状态不在读",
    ExclusionReason.stage: "学段不符合该政策",
    ExclusionReason.category: "不属于该政策资助对象类别",
    ExclusionReason.boarding: "不符合寄宿条件",
    ExclusionReason.already_paid: "本学期已在其他批次发放",
    ExclusionReason.already_in_batch: "本学期已列入其他批次",
    ExclusionReason.objection: "公示异议成立，已移出名单",
    ExclusionReason.not_eligible: "已不符合资助条件",
    ExclusionReason.paid_elsewhere: "已在区域外享受同类资助",
    ExclusionReason.hardship: "未认定为家庭经济困难学生或困难等级不足",
    ExclusionReason.no_rule: "本学期不符合该政策任何发放标准",
}


class CaseSource(StrEnum):
    """What opened a dropout case."""

    absences = "absences"
    enrollment = "enrollment"
    verification = "verification"
    manual = "manual"
    outside_roster = "outside_roster"  # a public-security or 残联 roster child on no roll (联控联保)


CASE_SOURCE_NAMES = {
    CaseSource.absences: "连续缺课",
    CaseSource.enrollment: "学籍辍学",
    CaseSource.verification: "核查发现",
    CaseSource.manual: "手工立案",
    CaseSource.outside_roster: "联控联保名单比对",
}


class OutsideRosterSource(StrEnum):
    """Who keeps an outside roster of school-age children (联控联保)."""

    public_security = "public_security"  # 公安户籍适龄儿童名单
    disabled_federation = "disabled_federation"  # 残联残疾儿童名单


OUTSIDE_ROSTER_SOURCE_NAMES = {
    OutsideRosterSource.public_security: "公安户籍适龄儿童少年名单",
    OutsideRosterSource.disabled_federation: "残联残疾儿童少年名单",
}
OUTSIDE_ROSTER_SOURCE_ALIASES = {
    "公安": OutsideRosterSource.public_security,
    "公安户籍": OutsideRosterSource.public_security,
    "户籍": OutsideRosterSource.public_security,
    "残联": OutsideRosterSource.disabled_federation,
    "残疾人联合会": OutsideRosterSource.disabled_federation,
}


class OutsideFindingKind(StrEnum):
    """What comparing an outside roster with our rolls found."""

    no_roll = "no_roll"  # a school-age child on the roster, enrolled nowhere we know: a case opens
    not_on_roster = "not_on_roster"  # a child on our roll the roster does not know
    disabled_unplaced = "disabled_unplaced"  # a 残联 child of compulsory age with no placement this year


OUTSIDE_FINDING_KIND_NAMES = {
    OutsideFindingKind.no_roll: "适龄未入学（无学籍）",
    OutsideFindingKind.not_on_roster: "在籍但名单中无此人",
    OutsideFindingKind.disabled_unplaced: "残疾儿童本年度未安置",
}


class EvidenceKind(StrEnum):
    """What an evidence file (佐证材料) shows."""

    photo = "photo"  # 走访照片
    scan = "scan"  # 扫描件
    letter = "letter"  # 责任书
    notice = "notice"  # 通知书（限期复学通知书等）
    record = "record"  # 帮扶记录（纪实手册页）
    other = "other"


EVIDENCE_KIND_NAMES = {
    EvidenceKind.photo: "走访照片",
    EvidenceKind.scan: "扫描件",
    EvidenceKind.letter: "责任书",
    EvidenceKind.notice: "通知书",
    EvidenceKind.record: "帮扶纪实",
    EvidenceKind.other: "其他佐证材料",
}
EVIDENCE_KIND_ALIASES = {
    "照片": EvidenceKind.photo,
    "走访照片": EvidenceKind.photo,
    "扫描件": EvidenceKind.scan,
    "责任书": EvidenceKind.letter,
    "通知书": EvidenceKind.notice,
    "纪实": EvidenceKind.record,
    "帮扶记录": EvidenceKind.record,
    "其他": EvidenceKind.other,
}


def code_for(value: str, aliases: dict[str, str]) -> str:
    """Return the code of a label or alias (or the value itself, left for the schema to judge)."""
    text = value.strip()
    found = aliases.get(text) or aliases.get(text.lower())
    return str(found) if found is not None else text


# --- 帮扶 and the 控辍保学 responsibility system (issue 15) -------------------------------------


class SupportRecordKind(StrEnum):
    """What a helper (结对帮扶责任人) did for a paired child: the entries of the 纪实手册."""

    contact = "contact"
    home_visit = "home_visit"
    tutoring = "tutoring"
    material_help = "material_help"


SUPPORT_RECORD_KIND_NAMES = {
    SupportRecordKind.contact: "联系",
    SupportRecordKind.home_visit: "家访",
    SupportRecordKind.tutoring: "学业辅导",
    SupportRecordKind.material_help: "物质帮扶",
}
SUPPORT_RECORD_KIND_ALIASES = {
    "联系": SupportRecordKind.contact,
    "电话联系": SupportRecordKind.contact,
    "家访": SupportRecordKind.home_visit,
    "入户走访": SupportRecordKind.home_visit,
    "走访": SupportRecordKind.home_visit,
    "学业辅导": SupportRecordKind.tutoring,
    "辅导": SupportRecordKind.tutoring,
    "物质帮扶": SupportRecordKind.material_help,
    "物资帮扶": SupportRecordKind.material_help,
}


class ResponsibleLine(StrEnum):
    """The two lines of 双线控辍: the schools' and the governments'."""

    education = "education"
    government = "government"


RESPONSIBLE_LINE_NAMES = {ResponsibleLine.education: "教育线", ResponsibleLine.government: "政府线"}


class ResponsibleRole(StrEnum):
    """A named responsible person of a child (七长责任制, the four this system tracks)."""

    head_teacher = "head_teacher"
    principal = "principal"
    village_head = "village_head"
    township_head = "township_head"


RESPONSIBLE_ROLE_NAMES = {
    ResponsibleRole.head_teacher: "班主任",
    ResponsibleRole.principal: "校长",
    ResponsibleRole.village_head: "村(居)委会主任",
    ResponsibleRole.township_head: "乡镇长",
}
RESPONSIBLE_ROLE_ALIASES = {
    "班主任": ResponsibleRole.head_teacher,
    "校长": ResponsibleRole.principal,
    "村主任": ResponsibleRole.village_head,
    "村长": ResponsibleRole.village_head,
    "村(居)委会主任": ResponsibleRole.village_head,
    "乡镇长": ResponsibleRole.township_head,
    "镇长": ResponsibleRole.township_head,
    "乡长": ResponsibleRole.township_head,
}
RESPONSIBLE_LINE_OF = {
    ResponsibleRole.head_teacher: ResponsibleLine.education,
    ResponsibleRole.principal: ResponsibleLine.education,
    ResponsibleRole.village_head: ResponsibleLine.government,
    ResponsibleRole.township_head: ResponsibleLine.government,
}


class LegalStepKind(StrEnum):
    """The legal steps on a case after persuasion failed (依法控辍), in their usual order."""

    notice = "notice"
    township_referral = "township_referral"
    administrative_decision = "administrative_decision"
    court = "court"
    concluded = "concluded"


LEGAL_STEP_KIND_NAMES = {
    LegalStepKind.notice: "限期复学通知书",
    LegalStepKind.township_referral: "提请乡镇人民政府处理",
    LegalStepKind.administrative_decision: "行政处理决定",
    LegalStepKind.court: "司法诉讼",
    LegalStepKind.concluded: "办结",
}


class LegalOutcome(StrEnum):
    """How a legal step ended."""

    complied = "complied"
    not_complied = "not_complied"
    decided = "decided"
    withdrawn = "withdrawn"


LEGAL_OUTCOME_NAMES = {
    LegalOutcome.complied: "按期复学",
    LegalOutcome.not_complied: "逾期未复学",
    LegalOutcome.decided: "已作出决定/判决",
    LegalOutcome.withdrawn: "撤回",
}
