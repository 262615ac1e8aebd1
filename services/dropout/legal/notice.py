"""The printable notice to the guardian (限期复学通知书): a plain HTML page or an XLSX sheet."""

from html import escape

from services.dropout.cases.models import Case
from services.dropout.legal.models import LegalStep
from services.dropout.students.models import Student
from services.kit.spreadsheet import write_xlsx

TITLE = "限期复学通知书"
BASIS = (
    "根据《中华人民共和国义务教育法》第五条、第十一条和第五十八条的规定，适龄儿童、少年的父母或者其他法定监护人"
    "应当依法保证其按时入学接受并完成义务教育。"
)


def _fields(case: Case, student: Student, step: LegalStep) -> list[tuple[str, str]]:
    return [
        ("文号", step.number or ""),
        ("监护人", step.guardian_name or "学生监护人"),
        ("学生姓名", student.name),
        ("学校标识码", student.school_code or ""),
        ("未到校起始日期", f"{case.absent_since or case.opened_on:%Y年%m月%d日}"),
        ("复学期限", f"{step.deadline:%Y年%m月%d日}前" if step.deadline else ""),
        ("发文单位", step.authority or ""),
        ("发文日期", f"{step.step_on:%Y年%m月%d日}"),
    ]


def render_html(case: Case, student: Student, step: LegalStep) -> str:
    """A page the clerk prints: addressee, the child, the legal basis, the deadline, issuer and date."""
    f = dict(_fields(case, student, step))
    guardian, name = escape(f["监护人"]), escape(f["学生姓名"])
    deadline = escape(f["复学期限"])
    return f"""<!DOCTYPE html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{TITLE}</title>
<style>body{{font-family:serif;max-width:40em;margin:3em auto;line-height:2}}h1{{text-align:center}}
.right{{text-align:right}}</style></head>
<body><h1>{TITLE}</h1>
<p class="right">{escape(f["文号"])}</p>
<p>{guardian}：</p>
<p>您的子女（被监护人）{name}自{escape(f["未到校起始日期"])}起未到校上学，经学校和有关部门多次劝返，至今未复学。{BASIS}</p>
<p>现通知您：务必于<strong>{deadline}</strong>送{name}返校复学。逾期不复学的，将依法提请有关部门处理。</p>
<p class="right">{escape(f["发文单位"])}<br>{escape(f["发文日期"])}</p>
</body></html>
"""


def render_xlsx(case: Case, student: Student, step: LegalStep) -> bytes:
    """The same notice as a two-column sheet (item, value) for offices that print from a spreadsheet."""
    rows = [*_fields(case, student, step), ("依据", BASIS)]
    return write_xlsx([(TITLE, ["项目", "内容"], rows)], text_columns=(1,))
