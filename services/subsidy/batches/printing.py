"""The papers a batch is printed on: the 发放花名册 (signed by each family) and the 公示名单 (posted).

The 花名册 is internal: one row per live line (every line not cancelled; a line the bank returned is
marked), the full name, the ID number masked, school, grade, aid categories, policy, the amount in 元,
an empty signature cell, and a total row equal to the batch's total. The 公示名单 is public: only the
masked name, school, grade and amount (the rules of `publicity.notice`), never an ID number in any
form nor the child's aid category. Both are JSON by default, `format=csv|xlsx` to print.
"""

import uuid
from datetime import date
from typing import Annotated, Literal

from fastapi import Query
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlmodel.ext.asyncio.session import AsyncSession

from services.contracts.vocabulary import (
    CATEGORY_NAMES,
    LINE_STATUS_NAMES,
    STAGE_NAMES,
    Category,
    LineStatus,
    Stage,
)
from services.kit import listing
from services.subsidy.batches.models import Batch, Disbursement
from services.subsidy.domain import mask_name, semester_label
from services.subsidy.policies.models import Policy
from services.subsidy.projection.models import SchoolFact

PERSON = "学生"  # the 身份 column: who signs for the line (the check counts these rows)
ROSTER_TITLE = "学生资助资金发放花名册"
PUBLICITY_TITLE = "学生资助公示名单"
PUBLICITY_NOTE = "如对名单有异议，请在公示期内向学校或县（区）学生资助管理中心反映。"
ROSTER_HEADER = [
    *("序号", "姓名", "身份", "身份证号", "学校", "学段", "年级"),
    *("资助类别", "资助项目", "金额(元)", "备注", "领取人签字"),
]
PUBLICITY_HEADER = ["序号", "姓名", "身份", "学校", "年级", "金额(元)"]


PrintFormat = Annotated[
    Literal["json", "csv", "xlsx"] | None,
    Query(description="`csv` or `xlsx`: the sheet to print (amounts in 元, a total row); default JSON"),
]


class RosterLine(BaseModel):
    no: int = Field(description="序号")
    line_id: uuid.UUID
    student_id: uuid.UUID
    name: str
    id_number_masked: str = Field(description="First 6 and last 4 characters only")
    school_name: str | None
    stage: Stage | None
    grade: int | None
    categories: list[Category]
    policy_name: str
    amount_fen: int
    status: LineStatus = Field(description="The line's status; `failed` lines were returned by the bank")


class Roster(BaseModel):
    """The 发放花名册 of a batch."""

    batch_id: uuid.UUID
    school_code: str
    school_name: str | None
    semester: str
    semester_label: str
    policy_code: str
    policy_name: str
    status: str
    paid_on: date | None
    line_count: int
    total_fen: int = Field(description="Sum of the lines: equals the batch's total", examples=[750000])
    lines: list[RosterLine]


async def roster(session: AsyncSession, batch: Batch) -> dict:
    """The batch's live lines in print order (grade, name), with the school and policy names."""
    policy = await session.get(Policy, batch.policy_id)
    school = await session.get(SchoolFact, batch.school_code)
    policy_name = policy.name if policy else batch.policy_code
    stmt = (
        select(Disbursement)
        .where(Disbursement.batch_id == batch.id, Disbursement.status != "cancelled")
        .order_by(Disbursement.grade, Disbursement.student_name, Disbursement.id)
    )
    lines = (await session.execute(stmt)).scalars().all()
    return {
        "batch_id": batch.id,
        "school_code": batch.school_code,
        "school_name": school.name if school else None,
        "semester": batch.semester,
        "semester_label": semester_label(batch.semester),
        "policy_code": batch.policy_code,
        "policy_name": policy_name,
        "status": batch.status,
        "paid_on": batch.paid_on,
        "line_count": len(lines),
        "total_fen": sum(line.amount_fen for line in lines),
        "lines": [
            {
                "no": no,
                "line_id": line.id,
                "student_id": line.student_id,
                "name": line.student_name,
                "id_number_masked": line.id_number_masked,
                "school_name": school.name if school else None,
                "stage": line.stage,
                "grade": line.grade,
                "categories": list(line.categories),
                "policy_name": policy_name,
                "amount_fen": line.amount_fen,
                "status": line.status,
            }
            for no, line in enumerate(lines, start=1)
        ],
    }


def public_name(name: str) -> str:
    """The masked name as posted (王*明); a long name keeps its ends (阿**曼), never a run of stars."""
    masked = mask_name(name)
    return masked if len(masked) <= 4 else masked[0] + "**" + masked[-1]


def _yuan(fen: int) -> float:
    return fen / 100


def roster_file(data: dict, kind: str) -> tuple[bytes, dict[str, str]]:
    """The 花名册 as CSV or XLSX: title lines, one row per line, a total row, the signatures below."""
    school = data["school_name"] or data["school_code"]
    top = [
        [ROSTER_TITLE],
        ["学校", school, "学期", data["semester_label"], "资助项目", data["policy_name"]],
        ["批次状态", LINE_STATUS_NAMES.get(data["status"], data["status"]), "发放日期",
         data["paid_on"].isoformat() if data["paid_on"] else "未发放"],
    ]  # fmt: skip
    rows = [
        [
            line["no"],
            line["name"],
            PERSON,
            line["id_number_masked"],
            line["school_name"] or school,
            STAGE_NAMES.get(line["stage"], line["stage"] or ""),
            line["grade"],
            "、".join(CATEGORY_NAMES.get(c, c) for c in line["categories"]),
            line["policy_name"],
            _yuan(line["amount_fen"]),
            "支付失败（银行退回）" if line["status"] == "failed" else "",
            "",
        ]
        for line in data["lines"]
    ]
    total = ["合计", f"{len(rows)} 人", "", "", "", "", "", "", "", _yuan(data["total_fen"]), "", ""]
    rows.append(total)
    rows.append([])
    rows.append(["经办人（签字）：", "", "", "学校负责人（签字）：", "", "", "日期：    年  月  日"])
    content = listing.spreadsheet(kind, top, ROSTER_HEADER, rows, None, sheet="发放花名册")
    return content, listing.attachment(kind, f"roster-{data['school_code']}-{data['semester']}")


def publicity_file(notice: dict, kind: str) -> tuple[bytes, dict[str, str]]:
    """The 公示名单 as CSV or XLSX: masked names, school, grade, amount; no ID number, no category."""
    school = notice["school_name"] or notice["school_code"]
    start, end = notice["publicity_start"], notice["publicity_end"]
    period = f"{start.isoformat()} 至 {end.isoformat()}（不含）" if start and end else "未开始"
    top = [
        [PUBLICITY_TITLE],
        ["学校", school, "学期", semester_label(notice["semester"]), "资助项目", notice["policy_name"]],
        ["公示期", period],
        [PUBLICITY_NOTE],
    ]
    rows = [
        [no, public_name(line["name"]), PERSON, school, line["grade"], _yuan(line["amount_fen"])]
        for no, line in enumerate(notice["lines"], start=1)
    ]
    rows.append(["合计", f"{len(rows)} 人", "", "", "", _yuan(notice["total_fen"])])
    content = listing.spreadsheet(kind, top, PUBLICITY_HEADER, rows, None, sheet="公示名单")
    return content, listing.attachment(kind, f"publicity-{notice['school_code']}-{notice['semester']}")
