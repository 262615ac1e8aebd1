"""Personal identifiers at rest: no checksum-valid ID number in a database dump, the data dir or job listings.

Students are registered through the API with and without a 学籍号, a student import (CSV and XLSX, with
bad rows) and a platform roster verification (with bad rows) run, then the whole database is dumped with
pg_dump and the dump, the data dir's files and the job listings are scanned for any 18-character
sequence that passes the GB 11643 check (`stdnum.cn.ric.is_valid`).
"""

import asyncio
import glob
import io
import json
import os
import re
import subprocess
import time
import uuid
from pathlib import Path

import asyncpg
import pytest
from stdnum.cn import ric

from tests.helpers import Api, World, birth_for, eventually, make_id_number, random_name
from tests.registry.imports_helpers import XLSX, csv_bytes, finished, xlsx_bytes
from tests.statistics.verification_helpers import SEMESTER

# 18 characters not inside a longer run of digits or lowercase hex (hashes are hex): "G" + an ID
# number (the default 学籍号) still counts.
ID_WINDOW = re.compile(r"(?<![0-9a-f])(?=([0-9]{17}[0-9Xx])(?![0-9a-f]))")
PGSERVER_BIN = Path(".venv/lib/python3.11/site-packages/pgserver/pginstall/bin")
# The data dir's own server folders: PostgreSQL's files are what pg_dump reads; NATS stream data holds
# events (masked IDs and hashes only), so it is scanned.
SKIPPED = ("pg",)
HEADER = [
    "姓名",
    "身份证号",
    "学籍号",
    "户编号",
    "民族",
    "学校标识码",
    "学段",
    "年级",
    "班级",
    "是否寄宿",
    "就读状态",
]
ROSTER_HEADER = ["户编号", "姓名", "身份证号", "户状态"]


def plain_ids(text: str) -> set[str]:
    """Every checksum-valid (GB 11643) ID number in a text."""
    return {m.upper() for m in ID_WINDOW.findall(text) if _checksum_valid(m)}


def _checksum_valid(candidate: str) -> bool:
    """GB 11643 as stdnum checks it (place, birth date, check digit); where its place look-up fails
    on an unusual code, a real birth date and the check digit are enough to count as a leak."""
    try:
        return ric.is_valid(candidate)
    except Exception:
        try:
            ric.get_birth_date(candidate)
            return ric.calc_check_digit(candidate[:17]) == candidate[17].upper()
        except Exception:
            return False


def where(text: str, ids: set[str], width: int = 80) -> list[str]:
    """A little context around the first few IDs found (to say where they are)."""
    out = []
    for value in sorted(ids)[:12]:
        i = text.upper().find(value)
        out.append(text[max(0, i - width) : i + 18 + width].replace("\n", " | "))
    return out


def new_id() -> str:
    return make_id_number(birth_for("primary", 3))


def pg_dump_for(major: int) -> str:
    """A pg_dump of the server's major version (else the closest newer one: it reads older servers)."""
    found: dict[str, int] = {}
    for path in [*glob.glob("/usr/lib/postgresql/*/bin/pg_dump"), str(PGSERVER_BIN / "pg_dump")]:
        if Path(path).exists():
            out = subprocess.run([path, "--version"], capture_output=True, text=True, check=False).stdout
            if m := re.search(r"(\d+)\.", out):
                found[path] = int(m[1])
    usable = sorted((v != major, v, p) for p, v in found.items() if v >= major)
    if not usable:
        pytest.fail(f"no pg_dump of PostgreSQL {major} or newer (found {found})")
    return usable[0][2]


async def dump(owner_url: str) -> str:
    conn = await asyncpg.connect(owner_url)
    try:
        major = int(await conn.fetchval("SHOW server_version_num")) // 10000
    finally:
        await conn.close()
    out = await asyncio.to_thread(
        subprocess.run, [pg_dump_for(major), "--dbname", owner_url], capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr[:500]
    assert "COPY registry.student " in out.stdout  # the dump really holds the students
    return out.stdout


def data_dir_hits(data_dir: Path) -> dict[str, set[str]]:
    hits = {}
    for path in data_dir.rglob("*"):
        if not path.is_file() or path.relative_to(data_dir).parts[0] in SKIPPED:
            continue
        found = plain_ids(path.read_bytes().decode("utf-8", "replace"))
        if found:
            hits[str(path.relative_to(data_dir))] = found
    return hits


async def register(world: World) -> list[str]:
    """Students through the API: 学籍号 by default, explicit without an ID, explicit with one; one PATCHed."""
    county = world.users["county"]
    own = new_id()
    bodies = [
        world.student_body(),
        world.student_body(student_number="J6109281234567"),
        world.student_body(id_number=own, student_number="L" + own),
    ]
    for body in bodies:
        await county.ok("POST", "/api/v1/students", 201, json=body)
    plain = await county.ok("POST", "/api/v1/students", 201, json=world.student_body())
    patched = await county.ok(
        "PATCH", f"/api/v1/students/{plain['id']}", json={"student_number": "G" + new_id(), "version": 1}
    )
    assert patched["student_number"].count("*") >= 8
    return [b["id_number"] for b in bodies]


def bad_check(id_number: str) -> str:
    """The ID number with a wrong check digit."""
    return id_number[:17] + ("0" if id_number[17] != "0" else "1")


def import_rows(world: World, registered: list[str]) -> list[list[str]]:
    school = world.schools["primary"]["code"]

    def row(id_number: str, **over: str) -> list[str]:
        values = {"name": random_name(), "id": id_number, "number": "", "household": "", "ethnicity": "汉族",
                  "school": school, "stage": "小学", "grade": "三年级", "class": "3班", "boarding": "否",
                  "status": "在读"} | over  # fmt: skip
        return list(values.values())

    twice = new_id()
    return [
        row(new_id()),
        row(new_id(), number="G" + new_id()),  # an explicit 学籍号 holding (another) ID number
        row(twice),
        row(twice),  # the same ID number twice in the file
        row(new_id(), school="9999999999"),  # unknown school
        row(new_id(), household=new_id()),  # an ID number in the household column: unknown household
        row(new_id(), grade="十三年级"),  # a bad cell
        row(bad_check(new_id())),
        row(registered[0], school=world.schools["other_primary"]["code"]),  # moves school: refused
    ]


async def run_imports(world: World, registered: list[str]) -> None:
    county = world.users["county"]
    for filename, content in (
        ("students.csv", csv_bytes(HEADER, import_rows(world, registered))),
        ("students.xlsx", xlsx_bytes(HEADER, import_rows(world, registered), text_columns=(1, 2, 3))),
    ):
        mime = XLSX if filename.endswith(".xlsx") else "text/csv"
        resp = await county.post(
            "/api/v1/imports", files={"file": (filename, content, mime)}, data={"kind": "students"}
        )
        assert resp.status_code == 202, resp.text
        job = await finished(county, resp.json()["id"], timeout=60)
        assert job["status"] == "done" and job["created"] >= 3 and len(job["errors"]) >= 5, job


async def run_roster(world: World, registered: list[str]) -> None:
    county = world.users["county"]
    twice = new_id()
    rows = [
        ["H001", "学生甲", registered[0], "低保"],
        ["H002", "学生乙", new_id(), "建档立卡"],
        ["H003", "", new_id(), "低保"],  # no name
        ["H004", "学生丙", twice, "低保"],
        ["H005", "学生丁", twice, "低保"],  # the same ID number twice
        ["H006", "学生戊", new_id() + "1", "低保"],  # 19 characters
        ["H007", "学生己", new_id(), "不知道"],  # unknown status
    ]
    resp = await county.post(
        "/api/v1/verifications",
        files={"file": ("roster.csv", csv_bytes(ROSTER_HEADER, rows), "text/csv")},
        data={"semester": SEMESTER},
    )
    assert resp.status_code == 202, resp.text
    job_id = resp.json()["id"]

    async def check():
        got = await county.ok("GET", f"/api/v1/verifications/{job_id}")
        return got if got["status"] in ("done", "failed") else None

    job = await eventually(check, timeout=60, interval=0.2)
    assert job["status"] == "done" and job["error_count"] >= 4, (job["detail"], job["errors"])


async def listings(apis: list[Api]) -> str:
    bodies = []
    for api in apis:
        for path in ("/api/v1/imports", "/api/v1/verifications"):
            resp = await api.get(path, params={"limit": 200})
            if resp.status_code == 200:
                bodies.append(resp.text)
    return "\n".join(bodies)


async def test_no_checksum_valid_id_number_at_rest(world: World, owner_url: str, api: Api):
    registered = await register(world)
    await run_imports(world, registered)
    await run_roster(world, registered)
    await asyncio.sleep(2)  # let the relays and consumers carry the events

    text = await dump(owner_url)
    in_dump = plain_ids(text)
    in_files = data_dir_hits(world.stack.data_dir)
    in_lists = plain_ids(await listings([world.users["county"], api]))
    assert not (in_dump or in_files or in_lists), (
        f"{len(in_dump)} ID numbers in the dump: {where(text, in_dump)}; "
        f"in the data dir's files: { {k: len(v) for k, v in in_files.items()} }; "
        f"{len(in_lists)} in GET /imports or /verifications"
    )


async def test_revealed_student_number_is_the_stored_one(world: World):
    """The 学籍号 comes back whole with the audited reveal, masked otherwise (default and explicit)."""
    county = world.users["county"]
    own = new_id()
    for number, id_number in ((None, new_id()), ("L" + own, own), ("J6109281234567", new_id())):
        body = world.student_body(id_number=id_number, **({"student_number": number} if number else {}))
        made = await county.ok("POST", "/api/v1/students", 201, json=body)
        expected = number or "G" + id_number
        shown = await county.ok("GET", f"/api/v1/students/{made['id']}")
        revealed = await county.ok("GET", f"/api/v1/students/{made['id']}", params={"reveal": "id_number"})
        assert revealed["student_number"] == expected and revealed["id_number"] == id_number
        assert shown["student_number"] == expected[:7] + "*" * (len(expected) - 11) + expected[-4:]
        assert not plain_ids(json.dumps(shown))


def leftover(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{uuid.uuid4()}.csv"
    path.write_text(f"姓名,身份证号\n甲,{new_id()}\n")
    os.utime(path, (time.time() - 3600, time.time() - 3600))  # older than any upload being accepted
    return path


def test_start_up_sweeps_leftover_uploads(stack):
    """Uploads a dead process left behind (no running job) are removed when the service starts."""
    fresh = leftover(stack.data_dir / "imports")
    # May be an upload another process is accepting right now: kept. Dated a minute ahead, so the
    # restarts below (slow on a loaded machine) never outlast the sweep's grace (NOL_IMPORT_STALE_SECONDS).
    ahead = time.time() + 60
    os.utime(fresh, (ahead, ahead))
    imports, rosters = leftover(stack.data_dir / "imports"), leftover(stack.data_dir / "verifications")
    for name in ("registry", "statistics"):
        stack.stop_process(name)
        stack.spawn(name, relay_in_process=name not in stack.separate_relays)
    stack.wait_ready(["registry", "statistics"])
    assert not imports.exists() and not rosters.exists()
    assert fresh.exists()
    fresh.unlink()


def test_sealed_upload_is_0600_and_holds_no_plain_id(tmp_path: Path):
    """An upload waits for its job encrypted, readable by the owner only; it reads back whole or by range."""
    from services.kit.crypto import SEGMENT, FileCipher

    content = ("姓名,身份证号\n" + "".join(f"甲,{new_id()}\n" for _ in range(60_000))).encode()
    assert len(content) > SEGMENT and plain_ids(content.decode())
    sealed = FileCipher(os.urandom(32))
    path = tmp_path / "up" / f"{uuid.uuid4()}.csv"
    assert sealed.seal(io.BytesIO(content), path) == len(content)
    assert path.stat().st_mode & 0o777 == 0o600
    assert not plain_ids(path.read_bytes().decode("latin-1"))
    assert sealed.read(path) == content
    assert sealed.read_range(path, SEGMENT - 5, SEGMENT + 7) == content[SEGMENT - 5 : SEGMENT + 7]


async def test_sealed_roster_is_prepared_in_ranges(tmp_path: Path, monkeypatch):
    """A big CSV roster, sealed, is cut into ranges that worker processes decrypt and prepare themselves."""
    from services.kit.crypto import file_cipher
    from services.kit.settings import Settings
    from services.statistics.verification import runner as verification
    from services.statistics.verification.columns import Layout

    monkeypatch.setattr(verification, "SPAN_BYTES", 100_000)
    monkeypatch.setenv("NOL_VERIFICATION_WORKERS", "1")
    monkeypatch.setenv("NOL_DATA_DIR", str(tmp_path))
    settings = Settings(data_dir=tmp_path)
    run = verification.VerificationRunner(None, settings)
    rows = [[f"H{i}", "学生", new_id(), "低保"] for i in range(6000)]
    path = run.path_for(uuid.uuid4(), "roster.csv")
    file_cipher(settings).seal(io.BytesIO(csv_bytes(ROSTER_HEADER, rows)), path)
    layout = Layout.of(ROSTER_HEADER)
    try:
        got = [p async for p in run._chunks(verification.Source(layout=layout, path=path, filename="r.csv"))]
    finally:
        await run.stop()
    assert len(got) > 1 and sum(len(p.rows) for p in got) == 6000 and not any(p.errors for p in got)
