"""Nobody paid twice: a database constraint across all schools and counties; transfers excluded with where."""


import asyncpg
import pytest

from services.contracts.calendar import today as local_today
from tests.helpers import World
from tests.subsidy.helpers import (
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    projected,
    world_projected,
)


class TestNoDoublePayment:
    async def test_transfer_in_one_semester_is_paid_once(self, world: World, db):
        county = world.users["county"]
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(county)
        first = await make_batch(world.users["school"], world, policy)
        await approve_and_pay(world, first)
        change = await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={
                "kind": "transfer",
                "effective_date": local_today().isoformat(),
                "details": {"school_code": world.schools["other_primary"]["code"], "boarding": True},
            },
        )
        assert change["to_school_code"] == world.schools["other_primary"]["code"]
        moved = await county.ok("GET", f"/api/v1/students/{s['id']}")
        await projected(db, moved)
        second = await make_batch(county, world, policy, school="other_primary")
        assert second["lines"] == []
        (excluded,) = second["excluded"]
        assert excluded["student_id"] == s["id"] and excluded["reason"] == "already_paid"
        assert excluded["where"] == {
            "batch_id": first["id"],
            "school_code": world.schools["primary"]["code"],
            "status": "paid",
        }
        rows = await county.ok("GET", "/api/v1/subsidy/disbursements", params={"student_id": s["id"]})
        assert [(r["status"], r["batch_id"]) for r in rows["items"]] == [("paid", first["id"])]

    async def test_in_a_live_batch_elsewhere(self, world: World, db):
        county = world.users["county"]
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(county)
        first = await make_batch(county, world, policy)
        await county.ok(
            "POST",
            f"/api/v1/students/{s['id']}/enrollment-changes",
            201,
            json={"kind": "transfer", "effective_date": local_today().isoformat(),
                  "details": {"school_code": world.schools["other_primary"]["code"]}},
        )  # fmt: skip
        await projected(db, await county.ok("GET", f"/api/v1/students/{s['id']}"))
        second = await make_batch(county, world, policy, school="other_primary")
        (excluded,) = second["excluded"]
        assert excluded["reason"] == "already_in_batch" and excluded["where"]["batch_id"] == first["id"]
        assert excluded["where"]["status"] == "draft"

    async def test_database_refuses_a_second_live_line(self, world: World, db):
        s = await add_student(world)
        await world_projected(db, world, s)
        policy = await make_policy(world.users["county"])
        await make_batch(world.users["county"], world, policy)
        copy = """
            INSERT INTO subsidy.disbursement (id, batch_id, kind, student_id, student_name, id_number_masked,
                school_code, area_code, boarding, categories, policy_code, policy_id, policy_kind, semester,
                amount_fen, status, version)
            SELECT gen_random_uuid(), batch_id, kind, student_id, student_name, id_number_masked, '2199999999',
                '619999', boarding, categories, policy_code, policy_id, policy_kind, semester, amount_fen,
                'draft', 1
            FROM subsidy.disbursement WHERE student_id = $1::uuid"""
        with pytest.raises(asyncpg.UniqueViolationError):
            await db.execute(copy, s["id"])
