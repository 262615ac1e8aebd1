"""Bulk imports through the gateway: CSV and XLSX, labels, row errors, idempotent re-import, scope."""

import io
import json
import uuid
from datetime import UTC, datetime, timedelta

from tests.helpers import World, eventually, random_name
from tests.registry.imports_helpers import (
    STUDENT_HEADER,
    csv_bytes,
    errors_by_row,
    finished,
    new_id,
    run_import,
    student_row,
    upload,
    with_check,
    xlsx_bytes,
)


async def students_of(world: World, school: str = "primary") -> list[dict]:
    page = await world.admin.ok(
        "GET", "/api/v1/students", params={"school_code": world.schools[school]["code"], "limit": 500}
    )
    return page["items"]


def household_csv(world: World, rows: list[list[str]]) -> bytes:
    return csv_bytes(["户编号", "户主姓名", "村代码", "户状态"], rows)


async def student_events(db, student_id: str) -> list[dict]:
    """A student's entries in the import's bulk events, in outbox order (each with `event` and `version`)."""
    rows = await db.fetch(
        "SELECT s AS student FROM registry.outbox o, jsonb_array_elements(o.payload->'data'->'students') s "
        "WHERE o.type = 'edu.registry.bulk.students' AND s->>'id' = $1 ORDER BY o.position",
        student_id,
    )
    return [json.loads(r["student"]) for r in rows]


class TestImportStudents:
    async def test_csv_with_chinese_headers_and_labels(self, world: World, db):
        county = world.users["county"]
        boy = new_id()
        rows = [
            student_row(world, id_number=boy),
            student_row(world, boarding="否", status="送教上门", grade="1"),
            student_row(world, stage="primary", boarding="N", grade=4),
        ]
        job = await run_import(county, "students", csv_bytes(STUDENT_HEADER, rows, "gb18030"))
        assert (job["total"], job["processed"], job["created"], job["updated"]) == (3, 3, 3, 0)
        assert job["errors"] == [] and job["failed"] == 0 and job["kind"] == "students"
        students = {s["id_number_masked"]: s for s in await students_of(world)}
        first = students[boy[:6] + "********" + boy[-4:]]
        assert first["enrollment"] == {
            "school_code": world.schools["primary"]["code"],
            "stage": "primary",
            "grade": 3,
            "class_name": "3年级(1)班",
            "boarding": True,
            "status": "enrolled",
        }
        assert sorted(s["enrollment"]["status"] for s in students.values()) == [
            "enrolled",
            "enrolled",
            "home_taught",
        ]
        history = await county.ok("GET", f"/api/v1/students/{first['id']}/history")
        assert [h["kind"] for h in history["items"]] == ["enroll"]
        events = await student_events(db, first["id"])
        assert [e["event"] for e in events] == ["created"] and events[0]["version"] == 1
        (chunk,) = await db.fetch(
            "SELECT subject, payload FROM registry.outbox WHERE type = 'edu.registry.bulk.students' "
            "AND subject = $1",
            job["id"],
        )
        payload = json.loads(chunk["payload"])
        assert payload["data"]["job_id"] == job["id"] and len(payload["data"]["students"]) == 3
        assert payload["area_code"] == world.schools["primary"]["area_code"]  # where all its students are
        data = events[0]
        assert data["id"] == first["id"] and data["id_number_masked"] == first["id_number_masked"]
        assert "id_number" not in data and data["id_number_hash"]  # never the plain ID number field
        # One event per chunk, none per student.
        assert not await db.fetchval("SELECT count(*) FROM registry.outbox WHERE subject = $1", first["id"])

    async def test_english_headers_optional_columns_and_groups(self, world: World):
        header = ["name", "id_number", "gender", "birth_date", "groups", "school_code", "stage", "grade"]
        idn = new_id()
        gender = "男" if int(idn[16]) % 2 else "女"
        birth = f"{idn[6:10]}/{idn[10:12]}/{idn[12:14]}"
        row = ["李四", idn, gender, birth, "留守儿童、孤儿", world.schools["primary"]["code"], "primary", "3"]
        job = await run_import(world.admin, "students", csv_bytes(header, [row]))
        assert job["created"] == 1, job
        (student,) = await students_of(world)
        assert student["groups"] == ["left_behind", "orphan"] and student["categories"] == ["orphan"]
        assert student["enrollment"]["boarding"] is False and student["enrollment"]["status"] == "enrolled"

    async def test_row_errors_name_row_and_column_and_valid_rows_are_kept(self, world: World):
        ok = new_id()
        formula = '=HYPERLINK("http://x","点我")'
        bad_check = ok[:17] + ("0" if ok[17] != "0" else "1")
        rows = [
            student_row(world, id_number=ok, name=formula),  # row 2: kept, as text
            student_row(world, id_number=bad_check),  # 3
            student_row(world, id_number=with_check(new_id()[:10] + "0230" + new_id()[14:17])),  # 4
            student_row(world, id_number=new_id()[:17]),  # 5: 17 characters
            student_row(world, id_number=new_id() + "1"),  # 6: 19 characters
            student_row(world, school_code="2161999999"),  # 7
            student_row(world, name="王\x00明"),  # 8
            student_row(world, stage="初中", grade="初一"),  # 9: not offered by a primary school
            student_row(world, grade="十三"),  # 10
            student_row(world, id_number=ok),  # 11: same ID as row 2
            student_row(world),  # 12: kept
        ]
        job = await run_import(world.users["county"], "students", csv_bytes(STUDENT_HEADER, rows))
        assert (job["total"], job["processed"], job["created"], job["failed"]) == (11, 11, 2, 9)
        errors = errors_by_row(job)
        assert sorted(errors) == [3, 4, 5, 6, 7, 8, 9, 10, 11]
        assert errors[3] == [("身份证号", "check digit is wrong")]
        assert errors[4][0][0] == "身份证号" and "not a real date" in errors[4][0][1]
        assert errors[5] == [("身份证号", "must be 18 characters, got 17")]
        assert errors[6] == [("身份证号", "must be 18 characters, got 19")]
        assert errors[7] == [("学校标识码", "Unknown school 2161999999")]
        assert errors[8] == [("姓名", "must not contain NUL characters")]
        assert errors[9][0][0] == "学段" and "does not offer junior" in errors[9][0][1]
        assert errors[10][0][0] == "年级"
        assert errors[11] == [("身份证号", "The same ID number is on row 2")]
        assert job["error_count"] == 9
        names = {s["name"] for s in await students_of(world)}
        assert formula in names and len(names) == 2

    async def test_xlsx_file(self, world: World):
        idn = new_id()
        rows = [
            ["王小明", idn, "汉族", world.schools["junior"]["code"], "初中", 2, "八年级(3)班", True, "在读"],
            [
                "赵六",
                new_id("primary", 5),
                None,
                int(world.schools["junior"]["code"]),
                "小学",
                5.0,
                None,
                "否",
                None,
            ],
        ]
        content = xlsx_bytes(STUDENT_HEADER, rows, text_columns=(1,))
        job = await run_import(world.users["county"], "students", content, "学生.xlsx")
        assert job["created"] == 2, job
        got = {s["name"]: s for s in await students_of(world, "junior")}
        assert got["王小明"]["enrollment"]["stage"] == "junior"
        assert got["王小明"]["enrollment"]["grade"] == 2 and got["王小明"]["enrollment"]["boarding"] is True
        assert got["赵六"]["enrollment"]["grade"] == 5 and got["赵六"]["ethnicity"] is None

    async def test_reimport_updates_and_never_duplicates(self, world: World, db):
        rows = [student_row(world) for _ in range(4)]
        content = csv_bytes(STUDENT_HEADER, rows)
        first = await run_import(world.users["county"], "students", content)
        assert (first["created"], first["updated"]) == (4, 0)
        again = await run_import(world.users["county"], "students", content)
        assert (again["created"], again["updated"], again["errors"]) == (0, 4, [])
        students = await students_of(world)
        assert len(students) == 4 and {s["version"] for s in students} == {2}
        changed = [[*r[:6], "4年级(2)班", "否", "在读"] for r in rows[:1]]
        third = await run_import(world.users["county"], "students", csv_bytes(STUDENT_HEADER, changed))
        assert third["updated"] == 1
        updated = [s for s in await students_of(world) if s["version"] == 3]
        assert updated[0]["enrollment"]["class_name"] == "4年级(2)班"
        assert updated[0]["enrollment"]["boarding"] is False
        events = await student_events(db, updated[0]["id"])
        assert [(e["event"], e["version"]) for e in events] == [
            ("created", 1),
            ("updated", 2),
            ("updated", 3),
        ]

    async def test_same_file_twice_at_once_never_duplicates(self, world: World):
        content = csv_bytes(STUDENT_HEADER, [student_row(world) for _ in range(30)])
        county = world.users["county"]
        first, second = [await upload(county, "students", content) for _ in range(2)]
        jobs = [await finished(county, r.json()["id"]) for r in (first, second)]
        assert [j["status"] for j in jobs] == ["done", "done"]
        # Whichever commits first creates; the other updates (a chunk that collides is redone row by row).
        assert sum(j["created"] for j in jobs) == 30 and sum(j["updated"] for j in jobs) == 30
        assert jobs[0]["errors"] == jobs[1]["errors"] == []
        assert len(await students_of(world)) == 30

    async def test_chunk_refused_by_the_database_is_redone_row_by_row(self, world: World, db):
        """A student registered meanwhile by someone else makes the chunk's COPY fail: rows are redone alone."""
        import asyncio
        import base64

        from services.kit.crypto import FieldCipher

        await world.student("junior")  # the registry makes its data key on first use
        rows = [student_row(world) for _ in range(5)]
        key = base64.b64decode((world.stack.data_dir / "keys" / "data.key").read_bytes())
        taken = FieldCipher(key).lookup_hash(rows[2][1])
        school, area = world.schools["primary"]["code"], world.townships[0]
        tx = db.transaction()
        await tx.start()
        await db.execute(
            "INSERT INTO registry.student (id, name, id_number_enc, id_number_hash, id_number_masked, gender,"
            " birth_date, student_number, groups, categories, school_code, area_code, stage, grade, boarding,"
            " status, warnings, version, created_at, updated_at) VALUES ($1, '先到', '\\x00', $2, 'x', 'male',"
            " '2015-01-01', 'Gx', '{}', '{}', $3, $4, 'primary', 3, false, 'enrolled', '{}', 1, now(), now())",
            uuid.uuid4(),
            taken,
            school,
            area,
        )
        resp = await upload(world.users["county"], "students", csv_bytes(STUDENT_HEADER, rows))
        waiting = (
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND query LIKE 'COPY%'"
        )
        for _ in range(200):
            if await db.fetchval(waiting):
                break
            await asyncio.sleep(0.05)
        await tx.commit()
        job = await finished(world.users["county"], resp.json()["id"])
        assert (job["status"], job["created"], job["updated"], job["errors"]) == ("done", 4, 1, [])
        students = await students_of(world)
        assert len(students) == 5 and rows[2][0] in {s["name"] for s in students}

    async def test_reimport_cannot_move_school_or_change_status(self, world: World):
        one, two = student_row(world), student_row(world)
        await run_import(world.admin, "students", csv_bytes(STUDENT_HEADER, [one, two]))
        moved = [*one[:3], world.schools["other_primary"]["code"], *one[4:]]
        suspended = [*two[:8], "休学"]
        job = await run_import(world.admin, "students", csv_bytes(STUDENT_HEADER, [moved, suspended]))
        assert job["updated"] == 0
        errors = errors_by_row(job)
        assert errors[2][0][0] == "学校标识码" and "enrollment change" in errors[2][0][1]
        assert errors[3][0][0] == "就读状态" and "enrollment change" in errors[3][0][1]

    async def test_school_user_only_its_own_school(self, world: World):
        rows = [student_row(world, "primary"), student_row(world, "other_primary")]
        job = await run_import(world.users["school"], "students", csv_bytes(STUDENT_HEADER, rows))
        assert job["created"] == 1
        assert errors_by_row(job) == {
            3: [("学校标识码", f"Unknown school {world.schools['other_primary']['code']}")]
        }
        assert await students_of(world, "other_primary") == []

    async def test_student_registered_outside_scope_is_a_row_error(self, world: World):
        theirs = student_row(world, "other_primary")
        await run_import(world.admin, "students", csv_bytes(STUDENT_HEADER, [theirs]))
        mine = student_row(world, "primary", id_number=theirs[1])
        job = await run_import(world.users["school"], "students", csv_bytes(STUDENT_HEADER, [mine]))
        assert job["created"] == job["updated"] == 0
        assert errors_by_row(job)[2][0][0] == "身份证号"
        assert "registered elsewhere" in errors_by_row(job)[2][0][1]


class TestImportHouseholds:
    async def test_households_then_students_linked_by_platform_id(self, world: World, db):
        pid = f"P{uuid.uuid4().hex[:12]}"
        outside = f"P{uuid.uuid4().hex[:12]}"
        content = household_csv(
            world,
            [
                [pid, "王建国", world.villages[0], "建档立卡:2016:2020;脱贫:2020"],
                [outside, "李四", "610000100201", "低保:2024-03-01"],
                [f"P{uuid.uuid4().hex[:12]}", "张三", world.villages[1], "贫困:2016"],
            ],
        )
        job = await run_import(world.users["county"], "households", content)
        assert job["created"] == 1, job
        errors = errors_by_row(job)
        assert errors[3] == [("村代码", "Village 610000100201 is outside your area")]
        assert errors[4][0][0] == "户状态"
        page = await world.admin.ok("GET", "/api/v1/households", params={"platform_id": pid})
        (household,) = page["items"]
        assert household["current_kinds"] == ["lifted"]
        assert [s["kind"] for s in household["statuses"]] == ["registered_poor", "lifted"]
        header = [*STUDENT_HEADER, "户编号"]
        rows = [[*student_row(world), pid], [*student_row(world), "NOSUCH"]]
        job = await run_import(world.users["county"], "students", csv_bytes(header, rows))
        assert job["created"] == 1 and errors_by_row(job) == {3: [("户编号", "Unknown household NOSUCH")]}
        (student,) = await students_of(world)
        assert student["household_id"] == household["id"]
        assert student["categories"] == ["registered_poor"]
        # Re-import with a new status: the household is updated, its students follow.
        again = household_csv(world, [[pid, "王建国", world.villages[0], "低保:2024-01-01"]])
        job = await run_import(world.users["county"], "households", again)
        assert job["updated"] == 1
        student = await world.admin.ok("GET", f"/api/v1/students/{student['id']}")
        assert student["categories"] == ["dibao"]
        types = {
            r["type"]
            for r in await db.fetch("SELECT type FROM registry.outbox WHERE subject = $1", household["id"])
        }
        assert types == {
            "edu.registry.household.created",
            "edu.registry.household.updated",
            "edu.registry.household.status_changed",
        }


class TestImportAreasAndSchools:
    async def test_areas_and_schools(self, world: World):
        township = f"{world.code}102"
        village = f"{township}201"
        areas = csv_bytes(["区划代码", "名称"], [[village, "新村"], [township, "新镇"], ["620000", "外省"]])
        job = await run_import(world.users["county"], "areas", areas)
        assert job["created"] == 2 and list(errors_by_row(job)) == [4]
        area = await world.admin.ok("GET", f"/api/v1/areas/{village}")
        assert area["parent_code"] == township and area["level"] == "village"
        code = f"2161{uuid.uuid4().int % 10**6:06d}"
        header = ["学校标识码", "学校名称", "所在区划", "办学性质", "学段"]
        schools = csv_bytes(header, [[code, "新镇小学", township, "公办", "学前、小学"]])
        job = await run_import(world.users["county"], "schools", schools)
        assert job["created"] == 1, job
        school = await world.admin.ok("GET", f"/api/v1/schools/{code}")
        assert school["stages"] == ["preschool", "primary"] and school["ownership"] == "public"
        renamed = csv_bytes(header, [[code, "新镇中心小学", township, "", "小学"]])
        job = await run_import(world.users["county"], "schools", renamed)
        assert job["updated"] == 1
        school = await world.admin.ok("GET", f"/api/v1/schools/{code}")
        assert (school["name"], school["stages"], school["version"]) == ("新镇中心小学", ["primary"], 2)

    async def test_school_user_may_not_import_schools_403(self, world: World):
        resp = await upload(world.users["school"], "schools", csv_bytes(["code", "name"], [["1", "x"]]))
        assert resp.status_code == 403


class TestImportRequests:
    async def test_wrong_kind_422(self, world: World):
        resp = await upload(world.admin, "teachers", csv_bytes(["name"], [["x"]]))
        assert resp.status_code == 422
        assert resp.json()["errors"][0]["loc"] == ["kind"]
        resp = await world.admin.get("/api/v1/imports/templates/teachers")
        assert resp.status_code == 422

    async def test_wrong_role_403(self, world: World):
        for role in ("village", "township"):
            resp = await upload(
                world.users[role], "students", csv_bytes(STUDENT_HEADER, [student_row(world)])
            )
            assert resp.status_code == 403, role

    async def test_anonymous_401(self, world: World):
        resp = await world.admin.client.post(
            "/api/v1/imports", files={"file": ("a.csv", b"a", "text/csv")}, data={"kind": "students"}
        )
        assert resp.status_code == 401

    async def test_bad_header_422_names_columns(self, world: World):
        resp = await upload(
            world.admin, "students", csv_bytes(["姓名", "身份证号", "爱好"], [["a", "b", "c"]])
        )
        assert resp.status_code == 422
        detail = resp.json()["detail"]
        assert "unknown column(s) 爱好" in detail and "学校标识码" in detail

    async def test_not_a_spreadsheet_422(self, world: World):
        resp = await upload(world.admin, "students", b"PK\x03\x04garbage", "x.xlsx")
        assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["file"]
        resp = await upload(world.admin, "students", b"a,b", "x.pdf")
        assert resp.status_code == 422

    async def test_empty_file_422(self, world: World):
        resp = await upload(world.admin, "areas", csv_bytes(["code", "name"], []))
        assert resp.status_code == 422

    async def test_too_many_rows_413(self, world: World):
        content = b"code,name\n" + b"1,a\n" * 200_001
        resp = await upload(world.admin, "areas", content)
        assert resp.status_code == 413
        assert "200000" in resp.json()["detail"]

    async def test_job_of_another_area_404(self, world: World, api):
        resp = await upload(
            world.users["county"], "students", csv_bytes(STUDENT_HEADER, [student_row(world)])
        )
        job_id = resp.json()["id"]
        assert (await finished(world.users["county"], job_id))["actor"] == world.users["county"].username
        assert (await world.admin.get(f"/api/v1/imports/{job_id}")).status_code == 200
        for role in ("township", "school", "village"):
            assert (await world.users[role].get(f"/api/v1/imports/{job_id}")).status_code == 404, role
        listed = await world.users["county"].ok("GET", "/api/v1/imports", params={"kind": "students"})
        assert job_id in [j["id"] for j in listed["items"]]
        assert job_id not in [
            j["id"] for j in (await world.users["school"].ok("GET", "/api/v1/imports"))["items"]
        ]

    async def test_job_left_running_by_a_dead_process_is_failed(self, world: World, db):
        job_id = uuid.uuid4()
        await db.execute(
            "INSERT INTO registry.import_job (id, kind, filename, status, total, processed, created, updated,"
            " error_count, errors, actor, actor_role, area_code, version, created_at, updated_at)"
            " VALUES ($1, 'students', 'x.csv', 'running', 10, 4, 4, 0, 0, '[]', 'admin', 'admin', '61', 1,"
            " $2, $2)",
            job_id,
            datetime.now(UTC) - timedelta(hours=1),
        )
        # Its file is gone (no process kept it): the next heartbeat of a live process fails it.
        job = await eventually(lambda: _over(world, job_id), timeout=30)
        assert job["status"] == "failed" and "again" in job["detail"] and job["processed"] == 4


async def _over(world: World, job_id) -> dict | None:
    job = await world.admin.ok("GET", f"/api/v1/imports/{job_id}")
    return job if job["status"] in ("done", "failed") else None


class TestTemplates:
    async def test_template_opens_and_has_chinese_headers(self, world: World):
        from openpyxl import load_workbook

        resp = await world.users["school"].get("/api/v1/imports/templates/students")
        assert resp.status_code == 200
        assert resp.headers["content-type"].startswith("application/vnd.openxmlformats")
        book = load_workbook(io.BytesIO(resp.content))
        header = [c.value for c in book.worksheets[0][1]]
        for label in (
            "姓名",
            "身份证号",
            "民族",
            "户编号",
            "学校标识码",
            "学段",
            "年级",
            "班级",
            "是否寄宿",
            "就读状态",
        ):
            assert label in header
        guide = [[c.value for c in row] for row in book["填写说明"].iter_rows()]
        assert ["身份证号", "id_number", "是"] == guide[2][:3]
        resp = await world.admin.get("/api/v1/imports/templates/households")
        sheet = load_workbook(io.BytesIO(resp.content)).worksheets[1]
        assert any("kind:since" in str(c.value) for row in sheet.iter_rows() for c in row)

    async def test_template_round_trip(self, world: World):
        """A filled-in template imports as is."""
        from openpyxl import load_workbook

        resp = await world.admin.get("/api/v1/imports/templates/students")
        book = load_workbook(io.BytesIO(resp.content))
        sheet = book.worksheets[0]
        header = [c.value for c in sheet[1]]
        values = {
            "姓名": random_name(),
            "身份证号": new_id(),
            "学校标识码": world.schools["primary"]["code"],
            "学段": "小学",
            "年级": "三年级",
            "是否寄宿": "否",
        }
        sheet.append([values.get(h) for h in header])
        out = io.BytesIO()
        book.save(out)
        job = await run_import(world.admin, "students", out.getvalue(), "template.xlsx")
        assert job["created"] == 1, job
