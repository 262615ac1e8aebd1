"""Subsidy figures as finance offices report them (issue 13 item 6): only money that reached the child,
by funding share; a line the bank returned stops counting, and its re-payment counts the child once.
"""

import random

from stdnum import luhn

from services.contracts.calendar import Semester
from tests.helpers import World
from tests.subsidy.helpers import (
    CURRENT,
    PAST,
    PAST_YEAR,
    POSTED,
    add_student,
    approve_and_pay,
    make_batch,
    policy_body,
    world_projected,
)

_rng = random.Random(1413)

AMOUNT = 62501  # 8 : 1 : 1 leaves a remainder: the line's shares still sum exactly to it
SHARES = ("central", "provincial", "county")


def card() -> str:
    """A Luhn-valid 19-digit debit card number."""
    body = "622848" + "".join(_rng.choice("0123456789") for _ in range(12))
    return body + luhn.calc_check_digit(body)


def payee_body(student_id: str, number: str) -> dict:
    return {"student_id": student_id, "guardian_name": "王建国", "relation": "father",
            "account_kind": "bank_card", "account_number": number, "bank_name": "中国农业银行旬阳支行"}  # fmt: skip


async def figure(api, **params) -> dict:
    return await api.ok("GET", "/api/v1/stats/subsidy", params={"semester": PAST, **params})


async def test_failed_lines_leave_the_figures_and_a_repayment_counts_once(world: World, db):
    u = world.users
    body = policy_body(boarding_only=False, rules=[{
        "code": "STD", "from_semester": f"{PAST_YEAR - 1}-autumn", "amount_fen": AMOUNT,
        "shares": {"central": 0.8, "provincial": 0.1, "county": 0.1}}])  # fmt: skip
    del body["amount_fen"], body["years"]
    policy = await u["county"].ok("POST", "/api/v1/subsidy/policies", 201, json=body)
    kids = [await add_student(world) for _ in range(3)]
    await world_projected(db, world, *kids)
    payees = [
        await u["school"].ok("POST", "/api/v1/subsidy/payees", 201, json=payee_body(k["id"], card()))
        for k in kids
    ]
    batch = await approve_and_pay(world, await make_batch(u["school"], world, policy))
    lines = (await u["county"].ok("GET", "/api/v1/subsidy/disbursements", params={"batch_id": batch["id"]}))[
        "items"
    ]
    assert len(lines) == 3 and all(sum(x["shares"].values()) == AMOUNT for x in lines)
    expected = {k: sum(x["shares"][k] for x in lines) for k in SHARES}

    got = await figure(u["county"])
    assert (got["students"], got["person_times"], got["amount_fen"]) == (3, 3, 3 * AMOUNT)
    assert got["by_share"] == expected and sum(got["by_share"].values()) == got["amount_fen"]
    assert got["by_hardship_level"] == {}  # no line was paid for an approved hardship level

    # The bank returns the first child's line: it leaves every figure at once.
    await u["county"].ok("POST", f"/api/v1/subsidy/batches/{batch['id']}/returns",
                         json={"lines": [{"student_id": kids[0]["id"], "reason": "账户已销户"}]})  # fmt: skip
    got = await figure(u["county"])
    assert (got["students"], got["person_times"], got["amount_fen"]) == (2, 2, 2 * AMOUNT)
    failed = next(x for x in lines if x["student_id"] == kids[0]["id"])
    assert got["by_share"] == {k: expected[k] - failed["shares"][k] for k in SHARES}

    # The payee is corrected and the line paid again in a follow-up batch: the child counts once.
    await u["school"].ok("PATCH", f"/api/v1/subsidy/payees/{payees[0]['id']}",
                         json={"account_number": card(), "version": payees[0]["version"]})  # fmt: skip
    repay = {"school_code": world.schools["primary"]["code"], "semester": PAST,
             "policy_code": policy["code"], "kind": "repay"}  # fmt: skip
    follow = await u["school"].ok("POST", "/api/v1/subsidy/batches", 201, json=repay)
    await approve_and_pay(world, follow)
    got = await figure(u["county"])
    assert (got["students"], got["person_times"], got["amount_fen"]) == (3, 3, 3 * AMOUNT)
    assert got["by_share"] == expected
    resp = await u["county"].get("/api/v1/stats/subsidy", params={"semester": PAST, "format": "csv"})
    rows = [r.split(",") for r in resp.content.decode("utf-8-sig").splitlines()]
    central = next(r for r in rows if r[:2] == ["资金来源", "中央"])
    assert central[rows[0].index("金额(分)")] == str(expected["central"])


async def test_hardship_levels_count_and_make_children_eligible(world: World, db):
    """A county-approved level is shown in the figure and makes a child of no category eligible; a level
    the township endorsed but the county did not approve does not."""
    u = world.users
    approved, endorsed, nothing = [await add_student(world, groups=[], boarding=False) for _ in range(3)]
    await world_projected(db, world, approved, endorsed, nothing)
    school_year = Semester.parse(CURRENT).school_year
    for kid, level, approvers in (
        (approved, "especially_hard", ("township", "county")),
        (endorsed, "general", ("township",)),
    ):
        row = await u["school"].ok("POST", "/api/v1/subsidy/hardship", 201, json={
            "student_id": kid["id"], "school_year": school_year, "level": level, "reason": "父亲重病"})  # fmt: skip
        await u["school"].ok(
            "POST", f"/api/v1/subsidy/hardship/{row['id']}/submit", json={"publicity_start": POSTED}
        )
        for who in approvers:
            await u[who].ok("POST", f"/api/v1/subsidy/hardship/{row['id']}/approve")
    body = policy_body(boarding_only=False, categories=["registered_poor"], min_hardship_level="general", rules=[
        {"code": "HARD", "from_semester": "2019-autumn", "amount_fen": 75000, "min_hardship_level": "hard"},
        {"code": "STD", "from_semester": "2019-autumn", "amount_fen": 50000}])  # fmt: skip
    del body["amount_fen"], body["years"]
    policy = await u["county"].ok("POST", "/api/v1/subsidy/policies", 201, json=body)
    batch = await make_batch(u["school"], world, policy, semester=CURRENT)
    assert [line["student_id"] for line in batch["lines"]] == [approved["id"]]
    await approve_and_pay(world, batch)

    got = await figure(u["county"], semester=CURRENT)
    assert got["by_hardship_level"] == {
        "especially_hard": {"students": 1, "person_times": 1, "amount_fen": 75000}
    }
    cov = await u["county"].ok("GET", "/api/v1/stats/coverage", params={"semester": CURRENT})
    assert (cov["eligible"], cov["paid"], cov["coverage"]) == (1, 1, 1.0)
