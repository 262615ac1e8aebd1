"""Helpers for the import tests: build CSV/XLSX files, upload them, wait for the job."""

import asyncio
import csv
import io
import time
from typing import Any

from stdnum.cn import ric

from tests.helpers import Api, World, birth_for, make_id_number, random_name

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
STUDENT_HEADER = ["姓名", "身份证号", "民族", "学校标识码", "学段", "年级", "班级", "是否寄宿", "就读状态"]


def csv_bytes(header: list[str], rows: list[list[Any]], encoding: str = "utf-8") -> bytes:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return out.getvalue().encode(encoding)


def xlsx_bytes(header: list[str], rows: list[list[Any]], *, text_columns: tuple[int, ...] = ()) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    for column in text_columns:
        for (cell,) in sheet.iter_rows(min_row=2, min_col=column + 1, max_col=column + 1):
            cell.data_type = "s"  # keep e.g. '=...' text and 18-digit IDs as typed
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def new_id(stage: str = "primary", grade: int = 3) -> str:
    return make_id_number(birth_for(stage, grade))


def with_check(first17: str) -> str:
    return first17 + ric.calc_check_digit(first17 + "0")


def student_row(world: World, school: str = "primary", **over: Any) -> list[Any]:
    """A row of STUDENT_HEADER, with labels as a county clerk would type them."""
    values = {
        "name": random_name(),
        "id_number": new_id(),
        "ethnicity": "汉族",
        "school_code": world.schools[school]["code"],
        "stage": "小学",
        "grade": "三年级",
        "class_name": "3年级(1)班",
        "boarding": "是",
        "status": "在读",
    } | over
    return list(values.values())


async def upload(api: Api, kind: str, content: bytes, filename: str = "data.csv") -> Any:
    mime = XLSX if filename.endswith(".xlsx") else "text/csv"
    return await api.post("/api/v1/imports", files={"file": (filename, content, mime)}, data={"kind": kind})


async def finished(api: Api, job_id: str, timeout: float = 30) -> dict:
    """Poll a job until it is done or failed; return it."""
    deadline = time.monotonic() + timeout
    while True:
        job = await api.ok("GET", f"/api/v1/imports/{job_id}")
        if job["status"] in ("done", "failed") or time.monotonic() > deadline:
            return job
        await asyncio.sleep(0.05)


async def run_import(api: Api, kind: str, content: bytes, filename: str = "data.csv") -> dict:
    """Upload a file (202), wait for its job and return it."""
    resp = await upload(api, kind, content, filename)
    assert resp.status_code == 202, resp.text
    assert resp.headers["location"] == f"/api/v1/imports/{resp.json()['id']}"
    job = await finished(api, resp.json()["id"])
    assert job["status"] == "done", job
    return job


def errors_by_row(job: dict) -> dict[int, list[tuple[str, str]]]:
    out: dict[int, list[tuple[str, str]]] = {}
    for err in job["errors"]:
        out.setdefault(err["row"], []).append((err["field"], err["msg"]))
    return out
