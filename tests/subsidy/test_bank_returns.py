"""Bank returns, re-payment (补付), the bank's payment file and reconciliation, through the HTTP API.

One county, one paid batch of five children with payees, shared by the tests of this module (in order).
"""

import csv
import io
import random
import uuid
from types import SimpleNamespace

import asyncpg
import pytest
from stdnum import luhn

from services.kit.spreadsheet import read_table
from tests import conftest
from tests.helpers import World, eventually
from tests.subsidy.helpers import (
    PAST,
    PAST_YEAR,
    add_student,
    approve_and_pay,
    events,
    make_batch,
    make_policy,
    world_projected,
)

_rng = random.Random(7812)
AMOUNT = 62500


def card() -> str:
    """A Luhn-valid 19-digit debit card number (a UnionPay-looking prefix)."""
    body = "622848" + "".join(_rng.choice("0123456789") for _ in range(12))
    return body + luhn.calc_check_digit(body)


def payee_body(student_id: str, number: str) -> dict:
    return {"student_id": student_id, "guardian_name": "王建国", "relation": "father",
            "account_kind": "bank_card", "account_number": number, "bank_name": "中国农业银行旬阳支行"}  # fmt: skip


@pytest.fixture(scope="module")
async def paid(api, stack, owner_url):
    world = await World.create(api, code=f"61{9000 - next(conftest._counties):04d}", stack=stack)
    u = world.users
    policy = await make_policy(u["county"], boarding_only=False, amount_fen=AMOUNT)
    kids = [await add_student(world) for _ in range(5)]
    conn = await asyncpg.connect(owner_url)
    try:
        await world_projected(conn, world, *kids)
    finally:
        await conn.close()
    cards = [card() for _ in kids]
    payees = [
        await u["school"].ok("POST", "/api/v1/subsidy/payees", 201, json=payee_body(k["id"], n))
        for k, n in zip(kids, cards, strict=True)
    ]
    batch = await approve_and_pay(world, await make_batch(u["school"], world, policy))
    ids = [k["id"] for k in kids]
    return SimpleNamespace(world=world, u=u, policy=policy, kids=ids, cards=cards, payees=payees, batch=batch)


def url(p, tail: str) -> str:
    return f"/api/v1/subsidy/batches/{p.batch['id']}/{tail}"


async def lines_of(p, batch_id: str) -> dict[str, dict]:
    got = await p.u["county"].ok("GET", "/api/v1/subsidy/disbursements", params={"batch_id": batch_id})
    return {x["student_id"]: x for x in got["items"]}


async def test_returned_lines_fail_and_are_repaid_once_after_the_payee_is_corrected(paid, db):
    p, county = paid, paid.u["county"]
    body = {"lines": [{"student_id": p.kids[0], "reason": "账户已销户"},
                      {"student_id": p.kids[1], "reason": "户名不符"}]}  # fmt: skip
    got = await county.ok("POST", url(p, "returns"), json=body)
    assert (got["failed"], got["unchanged"]) == (2, 0)
    again = await county.ok("POST", url(p, "returns"), json=body)  # a repeat changes nothing
    assert (again["failed"], again["unchanged"]) == (0, 2)
    lines = await lines_of(p, p.batch["id"])
    assert [lines[k]["status"] for k in p.kids] == ["failed", "failed", "paid", "paid", "paid"]
    assert lines[p.kids[0]]["failure_reason"] == "账户已销户"
    failed_ids = {lines[k]["id"] for k in p.kids[:2]}
    assert {e["subject"] for e in await events(db, "edu.subsidy.disbursement.failed")} >= failed_ids
    # 422 naming the row: a student with no line here; nothing is written.
    stranger = str(uuid.uuid4())
    bad = await county.post(url(p, "returns"), json={"lines": [
        {"student_id": p.kids[2], "reason": "x"}, {"student_id": stranger, "reason": "x"}]})  # fmt: skip
    assert bad.status_code == 422, bad.text
    assert bad.json()["errors"][0]["loc"][-2:] == [1, "student_id"]
    assert (await lines_of(p, p.batch["id"]))[p.kids[2]]["status"] == "paid"
    read = await county.ok("GET", f"/api/v1/subsidy/batches/{p.batch['id']}")
    assert {k: read["payments"][k] for k in ("paid_count", "failed_count", "failed_fen", "repaid_count")} == {
        "paid_count": 3, "failed_count": 2, "failed_fen": 2 * AMOUNT, "repaid_count": 0}  # fmt: skip

    repay = {"school_code": p.world.schools["primary"]["code"], "semester": PAST,
             "policy_code": p.policy["code"], "kind": "repay"}  # fmt: skip
    not_ready = await p.u["school"].post("/api/v1/subsidy/batches", json=repay)
    assert not_ready.status_code == 409, not_ready.text  # no payee corrected yet
    new_cards = [card(), card()]
    for payee, number in zip(p.payees[:2], new_cards, strict=True):
        await p.u["school"].ok("PATCH", f"/api/v1/subsidy/payees/{payee['id']}",
                               json={"account_number": number, "version": payee["version"]})  # fmt: skip
    follow = await p.u["school"].ok("POST", "/api/v1/subsidy/batches", 201, json=repay)
    assert (follow["kind"], follow["line_count"], follow["total_fen"]) == ("repay", 2, 2 * AMOUNT)
    assert {x["repays_id"] for x in follow["lines"]} == failed_ids
    assert {x["payee_masked"][-4:] for x in follow["lines"]} == {n[-4:] for n in new_cards}
    await approve_and_pay(p.world, follow)
    # The original lines keep the payee they were sent with; the batch shows paid / failed / re-paid.
    assert (await lines_of(p, p.batch["id"]))[p.kids[0]]["payee_masked"][-4:] == p.cards[0][-4:]
    read = await county.ok("GET", f"/api/v1/subsidy/batches/{p.batch['id']}")
    assert (read["payments"]["repaid_count"], read["payments"]["repaid_fen"]) == (2, 2 * AMOUNT)
    # Only this county's children: other tests of the session re-pay lines of their own.
    ours = set(p.kids)
    repaid = [
        e
        for e in await events(db, "edu.subsidy.disbursement.paid")
        if e["data"]["repays_id"] and e["data"]["student_id"] in ours
    ]
    assert {e["data"]["repays_id"] for e in repaid} == failed_ids and len(repaid) == len(failed_ids)
    # A second re-payment batch finds nothing left to pay.
    assert (await p.u["school"].post("/api/v1/subsidy/batches", json=repay)).status_code == 409

    async def figures():
        f = await county.ok(
            "GET", "/api/v1/stats/subsidy", params={"area_code": p.world.code, "year": PAST_YEAR}
        )
        return f if (f["person_times"], f["amount_fen"]) == (5, 5 * AMOUNT) else None

    await eventually(figures, timeout=30)  # each child once, the money once


async def test_payment_file_is_bank_ready_audited_and_county_only(paid):
    p, county = paid, paid.u["county"]
    resp = await county.get(url(p, "payment-file"), params={"format": "csv"})
    assert resp.status_code == 200, resp.text
    rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
    assert rows[0][:7] == ["序号", "收款人", "账号", "开户行", "金额(元)", "身份证号", "摘要"]
    by_student = {r[7]: r for r in rows[1:-1]}
    assert by_student[p.kids[2]][2] == p.cards[2] and by_student[p.kids[2]][4] == "625.00"
    assert "*" in by_student[p.kids[2]][5]  # the student's ID number, masked
    assert rows[-1][:2] == ["合计", "5笔"] and rows[-1][4] == "3125.00"
    xlsx = await county.get(url(p, "payment-file"), params={"format": "xlsx"})
    with read_table(xlsx.content, "f.xlsx") as table:
        assert table.header[2] == "账号" and any(p.cards[3] in cells for _, cells in table.rows)
    assert (await p.u["school"].get(url(p, "payment-file"))).status_code == 403
    audit = await county.ok("GET", "/api/v1/audit", params={"action": "reveal", "target_id": p.batch["id"]})
    assert len(audit["items"]) >= 2


async def test_reconciliation_lists_amount_account_unknown_and_missing(paid):
    p, county = paid, paid.u["county"]
    body = {"lines": [
        {"account": p.cards[2], "amount_yuan": "625.01"},  # amount differs
        {"student_id": p.kids[3], "account": card(), "amount_fen": AMOUNT},  # account differs
        {"account": card(), "amount_fen": AMOUNT, "name": "李四"},  # unknown to the batch
    ]}  # kids[4] is missing from the file  # fmt: skip
    got = await county.ok("POST", url(p, "reconciliation"), 201, json=body)
    kinds = {(m["kind"], m["student_id"]) for m in got["mismatches"]}
    assert ("amount_differs", p.kids[2]) in kinds and ("account_differs", p.kids[3]) in kinds
    assert ("unknown_line", None) in kinds and ("missing_from_file", p.kids[4]) in kinds
    amount = next(m for m in got["mismatches"] if m["kind"] == "amount_differs")
    assert (amount["expected_fen"], amount["found_fen"]) == (AMOUNT, AMOUNT + 1)
    assert p.cards[2] not in str(got)  # accounts only masked
    listed = await county.ok("GET", url(p, "reconciliation"))
    assert listed[0]["id"] == got["id"] and listed[0]["mismatch_count"] == got["mismatch_count"]


async def test_a_bank_return_file_names_its_rows(paid):
    p, county = paid, paid.u["county"]
    unknown = f"账号,金额(元),失败原因\n{p.cards[4]},625.00,卡片挂失\n{card()},625.00,账户不存在\n".encode()
    bad = await county.post(url(p, "returns"), files={"file": ("退票.csv", unknown)})
    assert bad.status_code == 422 and "row 3" in str(bad.json()["errors"][0]["loc"]), bad.text
    good = await county.post(url(p, "returns"), files={"file": ("退票.csv", unknown.split(b"\n", 2)[0] + b"\n"
                                                                   + unknown.split(b"\n")[1])})  # fmt: skip
    assert good.status_code == 200 and good.json()["failed"] == 1, good.text
    assert (await lines_of(p, p.batch["id"]))[p.kids[4]]["failure_reason"] == "卡片挂失"
