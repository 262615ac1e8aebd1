"""The columns of each import kind: field names, Chinese labels, and how a header row maps to them."""

from dataclasses import dataclass

from services.kit.errors import Invalid

# Columns people keep in their sheets that carry nothing to import.
IGNORED = frozenset({"序号", "编号", "#", "no", "no.", "备注", "remark", "remarks", "note", "notes"})
STATUS_FORMAT = (
    "kind:since[:until]，多项用 ; 分隔；kind 为 建档立卡/脱贫/监测对象/低保/特困（或 registered_poor, "
    "lifted, monitored, dibao, tekun），since/until 为年份（当年1月1日）或 YYYY-MM-DD，until 不含。"
    "例：建档立卡:2016:2020;脱贫:2020"
)


@dataclass(frozen=True)
class Column:
    field: str
    label: str
    aliases: tuple[str, ...] = ()
    required: bool = False
    help: str = ""
    example: str = ""


@dataclass(frozen=True)
class Spec:
    kind: str
    key: str
    sheet: str
    columns: tuple[Column, ...]

    def names(self, column: Column) -> tuple[str, ...]:
        return (column.field, column.label, *column.aliases)


SPECS: dict[str, Spec] = {
    "areas": Spec(
        "areas",
        "code",
        "行政区划",
        (
            Column("code", "区划代码", ("代码",), True, "2/4/6/9/12 位行政区划代码", "610928100201"),
            Column("name", "名称", ("区划名称",), True, "名称", "城关镇东村"),
        ),
    ),
    "schools": Spec(
        "schools",
        "code",
        "学校",
        (
            Column("code", "学校标识码", ("学校代码",), True, "10 位学校标识码", "2161000123"),
            Column("name", "学校名称", (), True, "学校名称", "城关镇中心小学"),
            Column("area_code", "所在区划", ("区划代码",), True, "所在县/镇/村的区划代码", "610928100"),
            Column("ownership", "办学性质", (), False, "公办、民办、普惠性民办（默认公办）", "公办"),
            Column(
                "stages",
                "学段",
                (),
                True,
                "学前、小学、初中、高中、中职、特殊教育，多项用 , 、 ; | 分隔",
                "小学、初中",
            ),
        ),
    ),
    "households": Spec(
        "households",
        "household_platform_id",
        "家庭户",
        (
            Column(
                "household_platform_id",
                "户编号",
                ("platform_id",),
                True,
                "防返贫平台户编号（重复导入按此更新）",
                "6109281002010001",
            ),
            Column("head_name", "户主姓名", (), True, "户主姓名", "王建国"),
            Column("area_code", "村代码", ("所在村",), True, "12 位村级区划代码", "610928100201"),
            Column(
                "statuses",
                "户状态",
                ("状态", "帮扶状态"),
                False,
                STATUS_FORMAT,
                "建档立卡:2016:2020;脱贫:2020",
            ),
        ),
    ),
    "students": Spec(
        "students",
        "id_number",
        "学生",
        (
            Column("name", "姓名", ("学生姓名",), True, "学生姓名", "王小明"),
            Column(
                "id_number",
                "身份证号",
                ("身份证件号", "身份证号码", "公民身份号码"),
                True,
                "18 位居民身份证号（重复导入按此更新）",
                "610928201503150012",
            ),
            Column("gender", "性别", (), False, "男/女；可不填，填写须与身份证号一致", "男"),
            Column(
                "birth_date", "出生日期", (), False, "YYYY-MM-DD；可不填，填写须与身份证号一致", "2015-03-15"
            ),
            Column("ethnicity", "民族", (), False, "民族", "汉族"),
            Column("student_number", "学籍号", ("全国学籍号",), False, "默认 G+身份证号", ""),
            Column("household_platform_id", "户编号", (), False, "所属家庭户的户编号（须已导入）", ""),
            Column(
                "groups",
                "特殊群体",
                (),
                False,
                "留守儿童、残疾、孤儿、随迁子女、学困生，多项用 , 、 ; | 分隔",
                "留守儿童",
            ),
            Column(
                "disability_category",
                "残疾类别",
                (),
                False,
                "视力、听力、言语、肢体、智力、精神、多重",
                "",
            ),
            Column("disability_grade", "残疾等级", (), False, "1-4 级", ""),
            Column("school_code", "学校标识码", ("学校代码",), True, "10 位学校标识码", "2161000123"),
            Column("stage", "学段", (), True, "学前、小学、初中、高中、中职、特殊教育", "小学"),
            Column("grade", "年级", (), True, "学段内年级：1-12、三年级、初一", "3"),
            Column("class_name", "班级", (), False, "班级名称", "三年级(2)班"),
            Column("boarding", "是否寄宿", ("寄宿", "是否住校"), False, "是/否（默认否）", "是"),
            Column(
                "status",
                "就读状态",
                ("学籍状态",),
                False,
                "在读、休学、缓学、送教上门、县外就读…（默认在读）",
                "在读",
            ),
        ),
    ),
}


def _normal(name: str) -> str:
    return name.strip().strip("*＊").strip().lower()


@dataclass(frozen=True)
class Layout:
    """Where each field is in a file's rows, and what the file calls it."""

    kind: str
    index: dict[str, int]
    names: dict[str, str]

    def column_name(self, field: str) -> str:
        """Return the column as the file names it (or the field name)."""
        return self.names.get(field, field)


def layout_for(kind: str, header: list[str]) -> Layout:
    """Map a header row to fields; raise Invalid naming unknown, repeated or missing columns."""
    spec = SPECS[kind]
    lookup = {_normal(name): col.field for col in spec.columns for name in spec.names(col)}
    index: dict[str, int] = {}
    names: dict[str, str] = {}
    unknown, repeated = [], []
    for i, raw in enumerate(header):
        name = _normal(raw)
        if not name or name in IGNORED:
            continue
        field = lookup.get(name)
        if field is None:
            unknown.append(raw)
        elif field in index:
            repeated.append(raw)
        else:
            index[field], names[field] = i, raw.strip()
    missing = [c.label for c in spec.columns if c.required and c.field not in index]
    problems = []
    if unknown:
        problems.append(f"unknown column(s) {', '.join(unknown)}")
    if repeated:
        problems.append(f"repeated column(s) {', '.join(repeated)}")
    if missing:
        problems.append(f"missing column(s) {', '.join(missing)}")
    if problems:
        accepted = ", ".join(f"{c.field}/{c.label}" for c in spec.columns)
        raise Invalid(["file"], f"Header row: {'; '.join(problems)}. Columns of {kind}: {accepted}")
    return Layout(kind=kind, index=index, names=names)
