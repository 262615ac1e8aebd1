"""Figures as CSV or XLSX: Chinese headers, 元 (two decimals) beside fen, formula-safe cells."""

import csv
import io
from typing import Any

from fastapi.responses import Response

from services.contracts.vocabulary import POLICY_KIND_NAMES, PolicyKind
from services.kit.spreadsheet import safe_cell, write_xlsx

METRICS = {
    "students": "学生人数",
    "households": "户数",
    "person_times": "人次",
    "amount_fen": "金额(分)",
    "eligible": "应助人数",
    "paid": "已助人数",
    "unpaid": "未助人数",
    "coverage": "覆盖率",
    "expected": "应到人数",
    "arrived": "已到人数",
    "not_arrived": "未到人数",
    "pending": "未核查人数",
    "cases_opened": "立案数",
    "returned": "劝返复学(已确认)",
    "returned_pending": "复学待确认",
    "open": "未结案",
    "dropped_out": "辍学人数",
    "consolidation_base": "学年初义务教育在校生",
    "consolidation_kept": "仍在校",
    "consolidation_rate": "巩固率",
    "children": "残疾儿童数",
    "enrollment_rate": "入学率",
    "count": "数量",
    "compulsory": "义务教育阶段学生",
    "paid_elsewhere": "区域外已助人数",
    "numerator": "分子",
    "denominator": "分母",
    "rate": "比率",
    "home_teaching": "送教上门",
    "school_age_disabled": "适龄残疾儿童",
    "placed": "已安置",
}
# Parts of a figure that are one group of metrics (not a breakdown of items): one row each, then their
# own breakdowns below them.
GROUPS = {
    "loans": "助学贷款",
    "progression_junior_senior": "初升高比率",
    "progression_senior_higher": "高中阶段升大学比率",
    "consolidation_cohort": "巩固率",
    "consolidation_monitoring": "控辍保学巩固率",
    "dropout_compulsory": "义务教育辍学率",
    "coverage": "资助覆盖率",
    "disabled_enrollment": "残疾儿童入学率",
    "notice_acknowledged": "告知率",
}
DIMENSIONS = {
    "by_stage": "学段",
    "by_category": "资助类别",
    "by_semester": "学期",
    "by_policy_kind": "资助类型",
    "by_reason": "未到原因",
    "by_reason_group": "辍学原因",
    "by_placement": "安置方式",
    "by_lender": "贷款机构",
    "by_share": "资金来源",
    "by_stage_category": "学段",
    "households_by_category": "户数/资助类别",
    "by_hardship_level": "困难等级",
    "dropout_by_stage": "分学段辍学率",
    "groups": "分组",
}
VALUES = {
    "preschool": "学前",
    "primary": "小学",
    "junior": "初中",
    "senior": "普通高中",
    "vocational": "中职",
    "higher": "高等教育",
    "special": "特殊教育",
    "registered_poor": "建档立卡(含原建档立卡)",
    "monitored": "防返贫监测对象",
    "dibao": "低保",
    "tekun": "特困供养",
    "orphan": "孤儿",
    "disabled": "残疾",
    "scholarship": "奖学金",
    "loan": "助学贷款",
    "grant": "助学金",
    "living_allowance": "生活补助",
    "waiver": "免学费/免费教科书",
    "entry_grant": POLICY_KIND_NAMES[PolicyKind.entry_grant],
    "special_school": "特殊教育学校",
    "regular_class": "随班就读",
    "home_teaching": "送教上门",
    "deferred": "缓学",
    "exempt": "免学",
    "central": "中央",
    "provincial": "省级",
    "county": "县级",
    "general": "一般困难",
    "hard": "困难",
    "especially_hard": "特别困难",
    "unknown": "未知",
    "none": "无资助类别",
}
SKIP = {"area_code", "school_code", "year", "semester", "locked", "as_of", "group_by", "basis"}
# What a bare number under a breakdown counts, e.g. by_stage: {"primary": 3} counts students.
LEAF_METRIC = {
    "by_stage": "students",
    "by_category": "students",
    "by_reason": "not_arrived",
    "by_reason_group": "cases_opened",
    "by_placement": "children",
    "by_lender": "count",
    "by_share": "amount_fen",
    "households_by_category": "households",
}


def flatten(payload: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Turn a nested figure into rows of (dimension, item, metrics)."""
    rows: list[tuple[str, str, dict[str, Any]]] = []

    def walk(node: dict[str, Any], dims: list[str], items: list[str]) -> None:
        metrics = {k: v for k, v in node.items() if k not in SKIP and not isinstance(v, dict)}
        if metrics:
            rows.append(("/".join(dims) or "合计", "/".join(items) or "合计", metrics))
        for key, sub in node.items():
            if not isinstance(sub, dict) or key in SKIP:
                continue
            if key in GROUPS:
                walk(sub, [*dims, GROUPS[key]], [*items, "合计"])
                continue
            dim = DIMENSIONS.get(key, key)
            for item, value in sub.items():
                label = VALUES.get(item, item)
                if isinstance(value, dict):
                    walk(value, [*dims, dim], [*items, label])
                else:
                    metric = LEAF_METRIC.get(key, "count")
                    rows.append(("/".join([*dims, dim]), "/".join([*items, label]), {metric: value}))

    walk(payload, [], [])
    return rows


def _yuan(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(int(fen)), 100)
    return f"{sign}{whole}.{cents:02d}"


def table(payload: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    rows = flatten(payload)
    keys: list[str] = []
    for _, _, metrics in rows:
        keys += [k for k in metrics if k not in keys]
    header = ["分组", "项目"]
    for k in keys:
        header.append(METRICS.get(k, k))
        if k == "amount_fen":
            header.append("金额(元)")
    out = []
    for dim, item, metrics in rows:
        line: list[Any] = [dim, item]
        for k in keys:
            v = metrics.get(k)
            line.append("" if v is None else v)
            if k == "amount_fen":
                line.append("" if v is None else _yuan(v))
        out.append(line)
    return header, out


def export(name: str, payload: dict[str, Any], fmt: str, *, title: str) -> Response:
    """Render a figure as CSV (UTF-8 with BOM, for Excel) or XLSX."""
    header, rows = table(payload)
    filename = f"{name}.{fmt}"
    disposition = {"Content-Disposition": f'attachment; filename="{filename}"'}
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf)
        writer.writerow(header)
        writer.writerows([[safe_cell(v) for v in row] for row in rows])
        return Response(
            ("\ufeff" + buf.getvalue()).encode(), media_type="text/csv; charset=utf-8", headers=disposition
        )
    body = write_xlsx([(title[:31], header, rows)])
    return Response(
        body,
        headers=disposition,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    )
