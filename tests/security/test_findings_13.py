"""Finding 13 of the outside test: look-alike usernames, hidden characters in names, implausible dates
and area codes, and a duplicate check that told any county where an ID number is registered.

Each input is refused with a 422 naming the field (never a 500, never accepted); the duplicate
check says only "registered elsewhere" and how to ask for a transfer, and the attempt is audited.
"""

import secrets
import uuid
from datetime import timedelta

import httpx
import pytest

from services.contracts import calendar
from tests import conftest
from tests.helpers import USER_PASSWORD, Api, World

TODAY = calendar.today()
YEAR_AHEAD = (TODAY + timedelta(days=400)).isoformat()


def refused_naming(resp: httpx.Response, *loc) -> None:
    """A 422 problem whose errors name the field at `loc`."""
    assert resp.status_code == 422, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    named = [e["loc"] for e in resp.json().get("errors", [])]
    assert any(list(n[-len(loc):]) == list(loc) for n in named), (loc, resp.json())


@pytest.fixture
async def other(api: Api, stack) -> World:
    """County B."""
    return await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)


# --- Usernames: ASCII only ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "username",
    [
        "\u0430dmin",  # Cyrillic а: reads as "admin"
        "zhang.w\u0435i",  # Cyrillic е
        "li.county\u200b",  # a zero-width space at the end
        "张伟wei",
        "Zhang.Wei",  # case variants of one name are two accounts that look alike
        "zhang@wei",
    ],
)
async def test_look_alike_usernames_refused(api: Api, world: World, username: str):
    body = {"username": username, "password": USER_PASSWORD, "role": "village", "area_code": world.villages[0]}
    refused_naming(await api.post("/api/v1/users", json=body), "username")


async def test_plain_ascii_username_still_accepted(api: Api, world: World):
    body = {"username": f"zhang.wei-{secrets.token_hex(3)}_1", "password": USER_PASSWORD, "role": "village",
            "area_code": world.villages[0]}
    await api.ok("POST", "/api/v1/users", 201, json=body)


# --- Names: no hidden or direction-changing characters, never only invisible text -------------------

HIDDEN = {
    "right-to-left override": "王\u202e明明",
    "left-to-right embedding": "\u202a王明",
    "right-to-left isolate": "王\u2067明",
    "pop directional isolate": "王明\u2069",
    "left-to-right mark": "王明\u200e",
    "right-to-left mark": "\u200f王明",
    "zero-width space": "王\u200b明",
    "zero-width joiner": "王\u200d明",
    "word joiner": "王\u2060明",
    "byte-order mark": "\ufeff王明",
    "only invisible": "\u200b\u200c\u200d",
    "hangul filler only": "\u3164",
    "variation selector": "王\ufe0f明",
}


@pytest.mark.parametrize("kind", sorted(HIDDEN))
async def test_student_names_with_hidden_characters_refused(world: World, kind: str):
    county = world.users["county"]
    refused_naming(await county.post("/api/v1/students", json=world.student_body(name=HIDDEN[kind])), "name")


async def test_hidden_characters_refused_in_every_person_name(world: World):
    county, rlo = world.users["county"], HIDDEN["right-to-left override"]
    kid = await world.student("primary", as_=county)
    resp = await county.patch(f"/api/v1/students/{kid['id']}", json={"name": rlo, "version": kid["version"]})
    refused_naming(resp, "name")
    household = {"head_name": HIDDEN["zero-width space"], "area_code": world.villages[0]}
    refused_naming(await county.post("/api/v1/households", json=household), "head_name")
    made = await county.ok("POST", "/api/v1/households", 201, json={"head_name": "王建国",
                                                                    "area_code": world.villages[0]})
    resp = await county.patch(f"/api/v1/households/{made['id']}",
                              json={"head_name": HIDDEN["only invisible"], "version": made["version"]})
    refused_naming(resp, "head_name")
    session = {"student_id": str(uuid.uuid4()), "date": TODAY.isoformat(), "teacher": rlo,
               "duration_minutes": 60, "content": "康复训练"}
    refused_naming(await county.post("/api/v1/disability/home-teaching-sessions", json=session), "teacher")
    after = await county.ok("GET", f"/api/v1/students/{kid['id']}")
    assert (after["name"], after["version"]) == (kid["name"], kid["version"])


async def test_client_names_with_hidden_characters_refused(api: Api):
    resp = await api.post("/api/v1/clients", json={"name": "省平台\u202etxt.exe", "area_code": "61"})
    refused_naming(resp, "name")


async def test_real_names_with_separators_still_accepted(world: World):
    """Minority names use the middle dot; a name with inner spaces is a name."""
    county = world.users["county"]
    for name in ("阿依古丽·买买提", "Ma Li"):
        got = await county.ok("POST", "/api/v1/students", 201, json=world.student_body(name=name))
        assert got["name"] == name


# --- Dates: events from 2000 to a year ahead ---------------------------------------------------------


async def test_absence_dated_year_one_refused(world: World):
    county = world.users["county"]
    for day in ("0001-01-01", "1999-12-31", YEAR_AHEAD):
        body = {"student_id": str(uuid.uuid4()), "date": day, "reason": "sick"}
        refused_naming(await county.post("/api/v1/attendance/absences", json=body), "date")


async def test_case_opened_in_1900_refused(world: World):
    county = world.users["county"]
    for field in ("opened_on", "absent_since"):
        for day in ("1900-01-01", YEAR_AHEAD):
            body = {"student_id": str(uuid.uuid4()), "reason_group": "poverty", field: day}
            refused_naming(await county.post("/api/v1/dropout/cases", json=body), field)


async def test_home_visit_and_household_dates_bounded(world: World):
    county = world.users["county"]
    session = {"student_id": str(uuid.uuid4()), "date": "1999-06-01", "teacher": "李老师",
               "duration_minutes": 60, "content": "康复训练"}
    refused_naming(await county.post("/api/v1/disability/home-teaching-sessions", json=session), "date")
    household = {"head_name": "王建国", "area_code": world.villages[0],
                 "statuses": [{"kind": "registered_poor", "since": "1066-10-14"}]}
    refused_naming(await county.post("/api/v1/households", json=household), "statuses", 0, "since")


def test_the_bounds_live_once_in_the_calendar():
    assert calendar.EARLIEST_EVENT.isoformat() == "2000-01-01"
    assert calendar.event_date_problem(calendar.EARLIEST_EVENT) is None
    assert calendar.event_date_problem(TODAY + timedelta(days=365)) is None
    assert calendar.event_date_problem(TODAY + timedelta(days=367)) is not None
    assert calendar.birth_date_problem(calendar.EARLIEST_BIRTH) is None
    assert calendar.birth_date_problem(calendar.EARLIEST_BIRTH - timedelta(days=1)) is not None


# --- Area codes: a real level's length ----------------------------------------------------------------


async def test_seven_digit_area_codes_refused(api: Api, world: World):
    county, seven = world.users["county"], f"{world.code}1"
    policy = {"code": f"F13{secrets.token_hex(3)}", "name": "测试补助", "kind": "living_allowance",
              "stages": ["primary"], "categories": ["orphan"], "amount_fen": 50000,
              "years": [TODAY.year], "area_code": seven}
    calls = [
        (api, "POST", "/api/v1/areas", {"code": seven, "name": "七位码"}, ("code",)),
        (county, "POST", "/api/v1/subsidy/policies", policy, ("area_code",)),
        (county, "PUT", "/api/v1/dropout/calendar/2030",
         {"area_code": seven, "days": [{"date": "2030-05-04", "kind": "holiday", "name": "测试"}]}, ("area_code",)),
        (county, "POST", "/api/v1/stats/locks", {"year": 2010, "area_code": seven}, ("area_code",)),
        (county, "POST", "/api/v1/verifications",
         {"semester": "2026-spring", "area_code": seven,
          "rows": [{"household_platform_id": "PX1", "name": "王明", "id_number": "610928201503150012"}]},
         ("area_code",)),
    ]
    for who, method, path, body, loc in calls:
        resp = await who.request(method, path, json=body)
        refused_naming(resp, *loc)
        assert resp.json()["errors"][0]["code"] == "string_pattern_mismatch", (path, resp.json())


# --- The duplicate check names no place ----------------------------------------------------------------


async def test_duplicate_id_number_says_only_registered_elsewhere_and_is_audited(world: World, other: World):
    a_county, a_school = world.users["county"], world.users["school"]
    theirs = other.student_body("primary")
    await other.users["county"].ok("POST", "/api/v1/students", 201, json=theirs)
    ours = world.student_body("junior")  # in A, at a school A's primary-school user does not see
    mine = await a_county.ok("POST", "/api/v1/students", 201, json=ours)

    def again(body: dict) -> dict:
        return world.student_body("primary", id_number=body["id_number"])

    elsewhere = await a_county.post("/api/v1/students", json=again(theirs))
    unseen = await a_school.post("/api/v1/students", json=again(ours))
    for resp in (elsewhere, unseen):
        assert resp.status_code == 409, resp.text
        problem = resp.json()
        assert problem["type"].endswith("/registered_elsewhere"), problem
        assert "existing" not in problem and "transfer" in problem["detail"]
        for clue in (other.code, other.schools["primary"]["code"], world.schools["junior"]["code"], "outside"):
            assert clue not in resp.text, clue
    # Another county, or a school of one's own county one cannot see: the same words.
    assert elsewhere.json()["detail"] == unseen.json()["detail"]
    # Whoever sees the student is told which one it is.
    seen = await a_county.post("/api/v1/students", json=again(ours))
    assert seen.status_code == 409 and seen.json()["existing"]["id"] == mine["id"]
    # The refused attempt is in the audit trail, with its outcome.
    audit = await a_county.ok("GET", "/api/v1/audit", params={"actor": a_county.username, "action": "create"})
    refused = [e for e in audit["items"] if e["path"] == "/api/v1/students" and e["status"] == 409]
    assert len(refused) == 2, audit["items"]
