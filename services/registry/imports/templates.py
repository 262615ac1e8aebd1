"""XLSX templates: a header row of Chinese labels, and a sheet that explains every column."""

from services.kit.spreadsheet import write_xlsx
from services.registry.imports.columns import IGNORED, SPECS

NOTES = [
    ("表头", "第一行为表头：可用中文列名（如本模板）或英文字段名；列的顺序不限，“序号”“备注”列被忽略。"),
    ("行号", "错误报告中的行号与表格一致：表头为第 1 行，第一条数据为第 2 行。"),
    ("更新", "重复导入同一文件不会产生重复记录：已有记录按关键列更新；空白单元格在更新时保留原值。"),
    ("编码", "CSV 可用 UTF-8（含 BOM）或 GB18030/GBK 编码；XLSX 读取第一个工作表。"),
    ("文本", "以 = + - @ 开头的内容按原文保存，不作为公式。"),
]


def template(kind: str) -> bytes:
    """Return the XLSX template of an import kind."""
    spec = SPECS[kind]
    columns = spec.columns
    text_columns = [i for i, c in enumerate(columns) if c.field.endswith(("number", "code", "platform_id"))]
    guide = (
        [(c.label, c.field, "是" if c.required else "否", c.help, c.example) for c in columns]
        + [("", "", "", "", "")]
        + [(title, "", "", note, "") for title, note in NOTES]
    )
    guide.append(("忽略的列", "", "", "、".join(sorted(IGNORED)), ""))
    return write_xlsx(
        [
            (spec.sheet, [c.label for c in columns], []),
            ("填写说明", ["列名", "字段", "必填", "说明", "示例"], guide),
        ],
        text_columns=text_columns,
    )
