"""A move into another county's school is a request that county accepts; until then nothing changes there.

The outside test's finding: a school user of county B transferred its pupil into a school of county A,
and A's next batch paid the child without A ever accepting it.
"""


import pytest

from services.contracts.calendar import today as local_today
from tests import conftest
from tests.helpers import Api, World
from tests.subsidy.helpers import add_student, make_batch, make_policy, projected, world_projected

TODAY = local_today().isoformat()


@pytest.fixture
async def sender(api: Api, stack) -> World:
    """County B: the sending side (`world` is county A, the receiving one)."""
    return await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)


async def ask(sender: World, student: dict, into: str, as_: str = "school", status: int = 202) -> dict:
    body = {"kind": "transfer", "effective_date": TODAY, "details": {"school_code": into, "grade": 3}}
    return await sender.users[as_].ok(
        "POST", f"/api/v1/students/{student['id']}/enrollment-changes", status, json=body
    )


async def outbox(db, subject: str) -> list[str]:
    rows = await db.fetch("SELECT type FROM registry.outbox WHERE subject = $1 ORDER BY position", subject)
    return [r["type"] for r in rows]


class TestCrossCounty:
    async def test_waits_for_the_receiving_county_then_moves_on_accept(
        self, world: World, sender: World, db
    ):
        a_county, b_school = world.users["county"], sender.users["school"]
        kid = await sender.student("primary", as_=b_school)
        into = world.schools["primary"]["code"]
        got = (await ask(sender, kid, into))["transfer_request"]
        assert (got["status"], got["student_id"], got["to_school_code"]) == ("pending", kid["id"], into)
        assert got["from_school_code"] == sender.schools["primary"]["code"] and got["requested_by"]
        # Still B's pupil: A cannot read it, B still can, at its old school.
        assert (await a_county.get(f"/api/v1/students/{kid['id']}")).status_code == 404
        still = await b_school.ok("GET", f"/api/v1/students/{kid['id']}")
        assert still["enrollment"]["school_code"] == sender.schools["primary"]["code"]
        # A sees what comes in (who, masked), B what goes out; A's school sees it too.
        incoming = await a_county.ok("GET", "/api/v1/transfers", params={"direction": "incoming"})
        (item,) = [t for t in incoming["items"] if t["id"] == got["id"]]
        assert item["student"]["name"] == kid["name"] and "*" in item["student"]["id_number_masked"]
        assert "id_number" not in item["student"]
        out = await sender.users["county"].ok("GET", "/api/v1/transfers", params={"direction": "outgoing"})
        assert got["id"] in {t["id"] for t in out["items"]}
        assert got["id"] not in {t["id"] for t in (await a_county.ok(
            "GET", "/api/v1/transfers", params={"direction": "outgoing"}))["items"]}
        await world.users["school"].ok("GET", f"/api/v1/transfers/{got['id']}")

        done = await a_county.ok("POST", f"/api/v1/transfers/{got['id']}/accept", json={"note": "已接收"})
        assert (done["status"], done["decision_note"]) == ("accepted", "已接收") and done["change_id"]
        moved = await a_county.ok("GET", f"/api/v1/students/{kid['id']}")
        assert moved["enrollment"]["school_code"] == into
        assert (await b_school.get(f"/api/v1/students/{kid['id']}")).status_code == 404
        history = await a_county.ok("GET", f"/api/v1/students/{kid['id']}/history")
        assert [h["kind"] for h in history["items"]] == ["enroll", "transfer"]
        assert history["items"][-1]["details"]["accepted_by"] == a_county.username
        # Both sides' audit trails: B's request, A's acceptance.
        b_audit = await sender.users["county"].ok("GET", "/api/v1/audit", params={"target_id": kid["id"]})
        assert any(e["action"] == "create" and "enrollment-changes" in e["path"] for e in b_audit["items"])
        a_audit = await a_county.ok("GET", "/api/v1/audit", params={"target_id": got["id"]})
        assert [(e["action"], e["status"]) for e in a_audit["items"]] == [("accept", 200)]
        # Events through the outbox: requested, accepted, and the student's own change.
        assert await outbox(db, got["id"]) == ["edu.registry.transfer.requested", "edu.registry.transfer.accepted"]
        assert "edu.registry.student.enrollment_changed" in await outbox(db, kid["id"])

    async def test_receiving_batch_leaves_out_a_child_not_accepted(self, world: World, sender: World, db):
        a_county = world.users["county"]
        policy = await make_policy(a_county)
        kid = await add_student(sender, as_=sender.users["county"])
        await ask(sender, kid, world.schools["primary"]["code"], as_="county")
        await world_projected(db, world)
        await projected(db, kid)
        batch = await make_batch(a_county, world, policy)
        assert kid["id"] not in {line["student_id"] for line in batch["lines"]}

    async def test_reject_keeps_the_student_and_ends_the_request(self, world: World, sender: World):
        kid = await sender.student("primary", as_=sender.users["school"])
        got = (await ask(sender, kid, world.schools["primary"]["code"]))["transfer_request"]
        done = await world.users["school"].ok("POST", f"/api/v1/transfers/{got['id']}/reject",
                                              json={"note": "学位已满"})
        assert (done["status"], done["decided_by"]) == ("rejected", world.users["school"].username)
        again = await world.users["county"].post(f"/api/v1/transfers/{got['id']}/accept")
        assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")
        still = await sender.users["school"].ok("GET", f"/api/v1/students/{kid['id']}")
        assert (still["enrollment"]["school_code"], still["enrollment"]["status"]) == (
            sender.schools["primary"]["code"], "enrolled")

    async def test_only_the_receiving_side_decides(self, world: World, sender: World):
        kid = await sender.student("primary", as_=sender.users["county"])
        got = (await ask(sender, kid, world.schools["primary"]["code"], as_="county"))["transfer_request"]
        path = f"/api/v1/transfers/{got['id']}"
        assert (await sender.users["county"].post(path + "/accept")).status_code == 403
        assert (await sender.users["school"].post(path + "/accept")).status_code == 403
        assert (await world.users["village"].post(path + "/accept")).status_code == 403
        # A school of A other than the receiving one does not see it at all.
        other = await world.user("school", world.townships[1], world.schools["other_primary"]["code"])
        assert (await other.post(path + "/accept")).status_code == 404
        assert (await world.users["county"].post(path + "/cancel")).status_code == 403

    async def test_one_waiting_request_per_student_and_cancel(self, world: World, sender: World):
        kid = await sender.student("primary", as_=sender.users["county"])
        into = world.schools["primary"]["code"]
        got = (await ask(sender, kid, into, as_="county"))["transfer_request"]
        second = await ask(sender, kid, world.schools["junior"]["code"], as_="county", status=409)
        assert "already waits" in second["detail"]
        done = await sender.users["county"].ok("POST", f"/api/v1/transfers/{got['id']}/cancel")
        assert done["status"] == "cancelled"
        assert (await world.users["county"].post(f"/api/v1/transfers/{got['id']}/accept")).status_code == 409
        await ask(sender, kid, into, as_="county")

    async def test_within_the_county_a_transfer_is_immediate(self, world: World):
        kid = await world.student("primary", as_=world.users["county"])
        into = world.schools["other_primary"]["code"]
        change = await world.users["county"].ok(
            "POST", f"/api/v1/students/{kid['id']}/enrollment-changes", 201,
            json={"kind": "transfer", "effective_date": TODAY, "details": {"school_code": into}})
        assert change["to_school_code"] == into

    async def test_a_bad_filter_is_a_422_naming_it(self, world: World):
        resp = await world.users["county"].get("/api/v1/transfers", params={"direction": "sideways"})
        assert resp.status_code == 422 and "direction" in resp.text
