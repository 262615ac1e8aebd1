"""Every event the subsidy service writes is in its catalogue and carries what the catalogue says."""

import json

from services.contracts.events import CATALOG, parse
from tests.helpers import World
from tests.subsidy.helpers import (
    PAST,
    act,
    add_student,
    approve_and_pay,
    make_batch,
    make_policy,
    world_projected,
)


async def test_outbox_matches_catalogue(world: World, db):
    u = world.users
    a, b = await add_student(world), await add_student(world)
    await world_projected(db, world, a, b)
    policy = await make_policy(u["county"])
    await u["county"].ok(
        "PATCH", f"/api/v1/subsidy/policies/{policy['code']}", json={"version": 1, "name": "改名"}
    )
    batch = await make_batch(u["school"], world, policy)
    await act(u["school"], batch, "submit")
    url = f"/api/v1/subsidy/batches/{batch['id']}/objections"
    objection = await u["school"].ok("POST", url, 201, json={"student_id": b["id"], "reason": "外出务工"})
    await u["township"].ok(
        "POST", f"{url}/{objection['id']}/resolve", json={"outcome": "upheld", "note": "核实"}
    )
    await act(u["township"], batch, "reject", reason="重新公示")
    await act(u["school"], batch, "regenerate")
    await approve_and_pay(world, batch)
    await u["school"].ok(
        "POST", f"/api/v1/subsidy/notices/{a['id']}/acknowledge", 201, json={"semester": PAST}
    )

    specs = CATALOG
    rows = await db.fetch("SELECT type, payload FROM subsidy.outbox")
    seen = set()
    for row in rows:
        assert row["type"] in specs, row["type"]
        payload = json.loads(row["payload"])
        assert payload["type"] == row["type"] and payload["source"] == "subsidy" and payload["id"]
        assert parse(payload).data == specs[row["type"]].data.model_validate(payload["data"])
        missing = set(specs[row["type"]].data.model_fields) - set(payload["data"])
        assert not missing, (row["type"], missing)
        seen.add(row["type"])
    assert {
        "edu.subsidy.policy.created",
        "edu.subsidy.policy.updated",
        "edu.subsidy.batch.generated",
        "edu.subsidy.batch.submitted",
        "edu.subsidy.batch.line_removed",
        "edu.subsidy.batch.rejected",
        "edu.subsidy.batch.regenerated",
        "edu.subsidy.batch.approved",
        "edu.subsidy.batch.paid",
        "edu.subsidy.disbursement.paid",
        "edu.subsidy.disbursement.cancelled",
        "edu.subsidy.objection.raised",
        "edu.subsidy.objection.resolved",
        "edu.subsidy.notice.acknowledged",
    } <= seen
