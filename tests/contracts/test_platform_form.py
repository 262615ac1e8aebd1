"""The platform form of events: what a subscriber scoped to an area may see (no stack needed)."""

from services.contracts.events import CATALOG
from services.contracts.platform import minimise, scope_subject, subject_for
from services.kit.consumer import subject_matches

STUDENT = {
    "id": "e1",
    "type": "edu.registry.student.enrollment_changed",
    "source": "registry",
    "time": "2026-12-13T01:00:00Z",
    "subject": "s1",
    "area_code": "610928100",
    "data": {
        "id": "s1",
        "name": "王小明",
        "birth_date": "2015-03-15",
        "id_number_hash": "ab" * 32,
        "id_number_masked": "610928********0012",
        "student_number": "G610928201503150012",
        "ethnicity": "汉族",
        "disability": {"kind": "visual"},
        "status": "transferred",
        "change": {"kind": "transfer", "actor": "county_1", "reason": "搬家", "details": {"x": 1}},
        "guardians": [{"guardian_name": "王建国", "id_number": "610928198001010011", "relation": "father"}],
    },
}


def test_people_are_left_out_and_identifiers_masked():
    form = minimise(STUDENT)
    data = form["data"]
    assert form["platform_version"] == 1 and form["id"] == "e1" and data["status"] == "transferred"
    text = repr(form)
    for secret in ("王小明", "2015-03-15", "ab" * 32, "汉族", "visual", "county_1", "搬家", "王建国"):
        assert secret not in text, secret
    assert "201503150012" not in text and data["id_number_masked"] == "610928********0012"
    assert data["student_number"].startswith("G610928") and data["student_number"].endswith("0012")
    assert data["guardians"][0] == {"id_number_masked": "610928********0011", "relation": "father"}


def test_public_names_stay():
    school = {
        "id": "e2",
        "type": "edu.registry.school.created",
        "area_code": "610928100",
        "data": {"code": "2161000001", "name": "城关小学", "area_code": "610928100"},
    }
    assert minimise(school)["data"]["name"] == "城关小学"


def test_subjects_carry_the_county_and_scopes_match_them():
    subject = subject_for(STUDENT)
    assert subject == "platform.61.6109.610928.registry.student.enrollment_changed"
    assert subject_matches(subject, scope_subject("610928"))
    assert subject_matches(subject, scope_subject("6109")) and subject_matches(subject, scope_subject("61"))
    assert not subject_matches(subject, scope_subject("610929"))
    assert not subject_matches(subject, scope_subject("6110"))
    assert subject_for({**STUDENT, "area_code": None}) is None  # no area: no platform subject
    city = subject_for({**STUDENT, "area_code": "6109"})
    assert subject_matches(city, scope_subject("6109")) and not subject_matches(city, scope_subject("610928"))


def test_every_catalogued_type_has_a_platform_subject():
    for event_type in CATALOG:
        assert subject_for({"type": event_type, "area_code": "610928"}), event_type
