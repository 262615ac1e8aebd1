"""Payees: validated accounts, encrypted at rest, masked in reads, an audited reveal, corrections."""

import json

from tests.helpers import World
from tests.subsidy.helpers import add_student, events, world_projected

URL = "/api/v1/subsidy/payees"
CARD = "6228480402564890018"  # Luhn-valid
ONE_CARD = "620102030405"  # a 12-digit 一卡通 passbook account: no check digit


def body(student_id: str, number: str = CARD, kind: str = "bank_card") -> dict:
    return {"student_id": student_id, "guardian_name": "李秀英", "relation": "mother",
            "account_kind": kind, "account_number": number, "bank_name": "陕西信合旬阳支行"}  # fmt: skip


async def test_payee_is_validated_masked_encrypted_revealed_with_audit_and_corrected(world: World, db):
    u = world.users
    kid, other = await add_student(world), await add_student(world)
    await world_projected(db, world, kid, other)
    bad = await u["school"].post(URL, json=body(kid["id"], CARD[:-1] + "9"))
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"][-1] == "account_number", bad.text
    short = await u["school"].post(URL, json=body(kid["id"], "62284804"))
    assert short.status_code == 422, short.text
    payee = await u["school"].ok("POST", URL, 201, json=body(kid["id"], "6228 4804 0256 4890 018"))
    assert payee["account_masked"] == "622848*********0018" and payee["account_number"] is None
    assert CARD not in json.dumps(payee)
    assert (await u["school"].post(URL, json=body(kid["id"]))).status_code == 409  # one per student
    one = await u["county"].ok("POST", URL, 201, json=body(other["id"], ONE_CARD, "one_card"))
    assert one["account_masked"] == "620102**0405"
    # At rest: encrypted and hashed, never the number.
    row = await db.fetchrow("SELECT * FROM subsidy.payee WHERE id = $1::uuid", payee["id"])
    assert CARD not in str(dict(row)) and CARD.encode() not in bytes(row["account_encrypted"])
    # Reads are masked; the county or the school reveals, audited; the township may not.
    listed = await u["township"].ok("GET", URL, params={"student_id": kid["id"]})
    assert [p["account_masked"] for p in listed["items"]] == [payee["account_masked"]]
    assert CARD not in json.dumps(listed)
    shown = await u["county"].ok("GET", f"{URL}/{payee['id']}", params={"reveal": "account"})
    assert shown["account_number"] == CARD
    assert (await u["township"].get(f"{URL}/{payee['id']}", params={"reveal": "account"})).status_code == 403
    audit = await u["county"].ok(
        "GET", "/api/v1/audit", params={"action": "reveal", "target_id": payee["id"]}
    )
    assert len(audit["items"]) >= 1
    # A correction needs the version; events carry the mask only.
    assert (await u["school"].patch(f"{URL}/{payee['id']}", json={"bank_name": "x"})).status_code == 422
    fixed = await u["school"].ok(
        "PATCH", f"{URL}/{payee['id']}", json={"account_number": "6217000010012345677", "version": 1}
    )
    assert (fixed["account_masked"], fixed["version"]) == ("621700*********5677", 2)
    stale = await u["school"].patch(f"{URL}/{payee['id']}", json={"bank_name": "x", "version": 1})
    assert stale.status_code == 409
    sent = await events(db, "edu.subsidy.payee.corrected", payee["id"])
    assert sent[-1]["data"]["account_masked"] == "621700*********5677"
    assert "6217000010012345677" not in json.dumps(sent)
    # Out of scope: another school's user sees nothing.
    assert (await u["village"].get(f"{URL}/{payee['id']}")).status_code in (403, 404)
