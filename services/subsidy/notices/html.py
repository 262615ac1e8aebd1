"""The printable notice to parents (学生资助告知书 / 致家长的一封信), in Chinese."""

from html import escape

from services.subsidy.domain import yuan

STYLE = """
body { font-family: "SimSun", "Songti SC", serif; max-width: 720px; margin: 2em auto; line-height: 1.8; }
h1 { text-align: center; font-size: 1.5em; letter-spacing: .2em; }
table { width: 100%; border-collapse: collapse; margin: 1em 0; }
th, td { border: 1px solid #000; padding: .3em .6em; text-align: left; }
td.amount, th.amount { text-align: right; }
.sign { margin-top: 3em; display: flex; justify-content: space-between; }
@media print { body { margin: 0 auto; } .noprint { display: none; } }
"""


PAGES = """
.page { page-break-after: always; break-after: page; }
.page:last-child { page-break-after: auto; break-after: auto; }
"""


def render(notice: dict) -> str:
    """Render the notice as a printable HTML page."""
    return _document("学生资助告知书", page(notice))


def render_many(notices: list[dict], title: str) -> str:
    """Render many notices as one printable document: one page per child, a page break between."""
    pages = "\n".join(f'<section class="page">{page(n)}</section>' for n in notices)
    return _document(title, pages or "<p>没有需要打印的告知书。</p>", extra=PAGES)


def _document(title: str, body: str, extra: str = "") -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>
<style>{STYLE}{extra}</style></head>
<body>
{body}
</body></html>
"""


def page(notice: dict) -> str:
    """The body of one notice (one child, one semester)."""
    e = escape
    rows = (
        "".join(
            f"<tr><td>{e(item['policy_name'])}</td><td>{e(item['policy_kind_label'])}"
            f"{'（补发）' if item['back_pay'] else ''}</td>"
            f"<td class='amount'>{yuan(item['amount_fen'])}</td><td>{item['paid_on'] or ''}</td></tr>"
            for item in notice["items"]
        )
        or "<tr><td colspan='4'>本学期暂无已发放的资助。</td></tr>"
    )
    ack = notice["acknowledgement"]
    ack_line = (
        f"<p>回执：已于 {ack['acknowledged_at']:%Y年%m月%d日} 确认收悉"
        f"（记录人：{e(ack['acknowledged_by'])}）。</p>"
        if ack
        else "<p class='noprint'>回执：尚未确认。</p>"
    )
    return f"""<h1>学生资助告知书</h1>
<p style="text-align:center">（致家长的一封信）</p>
<p>尊敬的{e(notice["name"])}同学家长：</p>
<p>您好！根据国家学生资助政策，您的孩子在{e(notice["school_name"] or "")}就读，
{e(notice["semester_label"])}享受以下资助：</p>
<table>
<tr><th>资助项目</th><th>类别</th><th class="amount">金额（元）</th><th>发放日期</th></tr>
{rows}
<tr><th colspan="2">合计</th><th class="amount">{yuan(notice["total_fen"])}</th><th></th></tr>
</table>
<p>资助资金是党和政府对家庭经济困难学生的关怀，专款专用，任何单位和个人不得截留、挤占、挪用，
不得以任何理由收取费用。如有疑问，请向学校或县教育局学生资助管理中心反映。</p>
{ack_line}
<div class="sign"><span>家长签字：__________</span><span>日期：____年__月__日</span></div>
"""
