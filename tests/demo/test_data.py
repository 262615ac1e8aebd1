"""The demo data generator: pure, no servers."""

import re
from collections import Counter

import pytest

from deploy.demo import data as demo
from services.contracts.calendar import today as local_today
from services.registry.areas.schemas import AreaCreate
from services.registry.domain import SCHOOL_TYPES
from services.registry.schools.schemas import SchoolCreate
from services.registry.students.idnumber import parse_id_number
from services.registry.students.schemas import StudentCreate
from services.registry.students.service import age_warnings

N = 2000


@pytest.fixture(scope="module")
def dataset() -> demo.Dataset:
    return demo.demo_dataset(seed=2026, n=N)


def test_about_n_students():
    assert len(demo.demo_dataset(n=N).students) == N
    assert len(demo.demo_dataset(n=37).students) == 37


def test_deterministic_for_a_seed():
    assert demo.demo_dataset(seed=7, n=300) == demo.demo_dataset(seed=7, n=300)
    assert demo.demo_dataset(seed=7, n=300).students != demo.demo_dataset(seed=8, n=300).students


def test_areas_parents_first(dataset):
    codes = [a["code"] for a in dataset.areas]
    assert len(codes) == len(set(codes))
    assert codes[:3] == ["61", "6109", "610928"]
    parent_len = {4: 2, 6: 4, 9: 6, 12: 9}
    for i, code in enumerate(codes):
        AreaCreate.model_validate(dataset.areas[i])
        if len(code) > 2:
            assert code[: parent_len[len(code)]] in codes[:i], code
    townships = [c for c in codes if len(c) == 9]
    assert len(townships) == 4
    for t in townships:
        assert 3 <= sum(1 for c in codes if len(c) == 12 and c.startswith(t)) <= 4


def test_schools_valid(dataset):
    area_codes = {a["code"] for a in dataset.areas}
    codes = [s["code"] for s in dataset.schools]
    assert 10 <= len(codes) <= 16 and len(set(codes)) == len(codes)
    for body in dataset.schools:
        school = SchoolCreate.model_validate(body)
        assert school.area_code in area_codes and school.area_code.startswith("610928")
        assert set(school.stages) <= SCHOOL_TYPES[school.code[:2]], school.code
        assert school.code[2:4] == "61"
    offered = {st for s in dataset.schools for st in s["stages"]}
    assert {"preschool", "primary", "junior", "senior", "vocational", "special"} <= offered


def test_id_numbers_valid_and_unique(dataset):
    ids = [s["id_number"] for s in dataset.students]
    assert len(set(ids)) == len(ids)
    today = local_today()
    for value in ids:
        parsed = parse_id_number(value, today=today)
        assert parsed.value == value
        assert value[:2] == "61"
    places = Counter(v[:6] for v in ids)
    assert places["610928"] > 0.7 * len(ids)


def test_gender_derivable(dataset):
    genders = Counter()
    for s in dataset.students:
        gender = parse_id_number(s["id_number"]).gender
        genders[gender] += 1
        given = s["name"][1:]
        assert given in (demo.GIVEN_MALE if gender == "male" else demo.GIVEN_FEMALE), s["name"]
    assert 0.42 < genders["male"] / len(dataset.students) < 0.6


def test_birth_dates_fit_stage_and_grade(dataset):
    start = demo.school_year_start()
    for s in dataset.students:
        e = s["enrollment"]
        birth = parse_id_number(s["id_number"]).birth_date
        age = start.year - birth.year - ((start.month, start.day) < (birth.month, birth.day))
        usual = demo.ENTRY_AGE[e["stage"]] + e["grade"] - 1
        assert abs(age - usual) <= 1, (s, age, usual)
        # The registry would not flag it either.
        assert age_warnings(birth, e["stage"], e["grade"]) == []


def test_student_bodies_valid_and_schools_offer_stage(dataset):
    schools = {s["code"]: s for s in dataset.schools}
    for body in dataset.students:
        student = StudentCreate.model_validate(body)
        e = student.enrollment
        assert e.stage in schools[e.school_code]["stages"]
        assert 1 <= e.grade <= demo.GRADES[e.stage]
        assert e.class_name and re.search(r"\(\d+\)班$", e.class_name)
        assert student.groups == sorted(body["groups"])  # the validator would not change them
        if body["enrollment"]["status"] == "home_taught":
            assert "disabled" in body["groups"]
    statuses = Counter(s["enrollment"]["status"] for s in dataset.students)
    assert statuses["enrolled"] > 0.97 * len(dataset.students)


def test_groups_and_shares(dataset):
    n = len(dataset.students)
    groups = Counter(g for s in dataset.students for g in s["groups"])
    assert 0.15 < groups["left_behind"] / n < 0.25
    assert 0.01 < groups["disabled"] / n < 0.035
    assert 0 < groups["orphan"] < 0.015 * n
    assert groups["migrant"] > 0 and groups["learning_difficulty"] > 0
    for s in dataset.students:
        assert ("disabled" in s["groups"]) == ("disability" in s)
        if s["enrollment"]["stage"] == "special":
            assert "disabled" in s["groups"]
    ethnicities = Counter(s["ethnicity"] for s in dataset.students)
    assert ethnicities.most_common(1)[0][0] == "汉族" and len(ethnicities) > 1
    boarding = Counter(s["enrollment"]["stage"] for s in dataset.students if s["enrollment"]["boarding"])
    assert boarding["junior"] > boarding["preschool"] == 0


def test_users_and_client(dataset):
    roles = {u["role"]: u for u in dataset.users}
    assert set(roles) == {"county", "township", "school", "village"}
    assert roles["county"]["area_code"] == "610928"
    assert roles["township"]["area_code"] == "610928100"
    assert roles["village"]["area_code"].startswith("610928100") and len(roles["village"]["area_code"]) == 12
    school = next(s for s in dataset.schools if s["code"] == roles["school"]["school_code"])
    assert "primary" in school["stages"] and school["area_code"] == roles["school"]["area_code"]
    assert roles["school"]["username"] == f"school_{school['code']}"
    areas = {a["code"] for a in dataset.areas}
    for u in dataset.users:
        assert u["area_code"] in areas
        pw = u["password"]
        assert len(pw) >= 8 and re.search(r"[a-z]", pw) and re.search(r"[A-Z]", pw)
        assert re.search(r"\d", pw) and re.search(r"[^A-Za-z0-9]", pw)
    assert dataset.client["area_code"] in areas and dataset.client["name"]
