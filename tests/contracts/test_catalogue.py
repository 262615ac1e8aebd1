"""Every producer and every consumer against the event catalogue (services/contracts/events).

Producers write full facts: every row of every outbox parses, says the right source and carries every
field of its data model (defaults exist for consumers, not for producers to lean on). Consumers take the
least a producer may send: each subscription is fed, over the real stream, events of each type it
listens to with only the required fields, and must apply every one (inbox), never dead-letter it.
"""

import asyncio
import json
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, get_args, get_origin

import nats
import pytest
import yaml
from pydantic import BaseModel

from services.contracts.calendar import current_semester
from services.contracts.calendar import today as local_today
from services.contracts.events import CATALOG, parse
from services.kit.service import Subscription
from tests.helpers import World, birth_for, eventually, make_id_number
from tests.statistics.verification_helpers import done, platform_client, submit
from tests.subsidy.helpers import act, add_student, make_batch, make_policy, world_projected

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("registry", "subsidy", "dropout", "statistics")
# What the flow below must at least have produced (other tests of the session add more).
DRIVEN = {
    "edu.registry.area.created", "edu.registry.school.created", "edu.registry.household.created",
    "edu.registry.student.created", "edu.registry.student.enrollment_changed",
    "edu.registry.household.status_changed",
    "edu.subsidy.policy.created", "edu.subsidy.batch.generated", "edu.subsidy.batch.submitted",
    "edu.subsidy.aid_elsewhere.recorded", "edu.subsidy.loan.recorded",
    "edu.dropout.absence.recorded", "edu.dropout.case.opened", "edu.dropout.case.action_recorded",
    "edu.dropout.verification.created", "edu.dropout.placement.recorded",
    "edu.statistics.child.not_in_school",
}


# ---- producers ---------------------------------------------------------------------------------

def missing_fields(model: type[BaseModel], data: Any, where: str = "data") -> list[str]:
    """Return the fields of a model (nested models too) a payload leaves out."""
    if not isinstance(data, dict):
        return [f"{where} is not an object"]
    out = []
    for name, field in model.model_fields.items():
        if name not in data:
            out.append(f"{where}.{name}")
            continue
        inner = _model_in(field.annotation)
        if inner is not None and isinstance(data[name], dict):
            out += missing_fields(inner, data[name], f"{where}.{name}")
        elif inner is not None and isinstance(data[name], list):
            for i, item in enumerate(data[name]):
                out += missing_fields(inner, item, f"{where}.{name}[{i}]")
    return out


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in get_args(annotation):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


async def drive_every_service(world: World, db) -> None:
    """Write through the API what makes each service publish its main events."""
    county, school = world.users["county"], world.users["school"]
    household = await county.ok("POST", "/api/v1/households", 201, json={
        "head_name": "王建国", "area_code": world.villages[0], "platform_id": f"P{secrets.token_hex(5)}",
        "statuses": [{"kind": "registered_poor", "since": "2020-01-01"}]})
    pupil = await add_student(world, household_id=household["id"])
    disabled = await add_student(world, groups=["disabled"], disability={"category": "physical", "grade": 2})
    leaver = await add_student(world, "junior", stage="junior", grade=1)
    await world_projected(db, world, pupil, disabled, leaver)
    # Became dibao: subsidy looks for back-pay owed to the household's children.
    await county.ok("PATCH", f"/api/v1/households/{household['id']}", json={
        "version": household["version"], "statuses": [{"kind": "registered_poor", "since": "2020-01-01"},
                                                      {"kind": "dibao", "since": "2026-01-01"}]})
    policy = await make_policy(county)
    batch = await make_batch(school, world, policy, semester=str(current_semester()))
    await act(school, batch, "submit", publicity_start=local_today().isoformat())
    # Aid paid elsewhere and a student loan: subsidy records them, statistics counts them.
    await county.ok("POST", "/api/v1/subsidy/aid-elsewhere", 201, json={
        "student_id": disabled["id"], "payer": {"name": "邻县", "code": "520502"}, "policy_kind": "grant",
        "semester": str(current_semester()), "amount_fen": 50000})
    await county.ok("POST", "/api/v1/subsidy/loans", 201, json={
        "student_id": disabled["id"], "loan_kind": "origin_credit", "year": local_today().year,
        "amount_fen": 800000, "lender": "国家开发银行", "contract_number": f"C{secrets.token_hex(4)}"})
    day = _last_school_day()
    await school.ok("POST", "/api/v1/attendance/absences", 200,
                    json=[{"student_id": pupil["id"], "date": day.isoformat(), "reason": "unexplained"}])
    await county.ok("POST", f"/api/v1/students/{leaver['id']}/enrollment-changes", 201,
                    json={"kind": "drop_out", "effective_date": day.isoformat(), "reason": "外出务工"})
    case = await eventually(lambda: _case_of(county, leaver), timeout=20)
    await county.ok("POST", f"/api/v1/dropout/cases/{case['id']}/actions", 201,
                    json={"kind": "home_visit", "note": "家访"})
    await _projected_in_dropout(db, pupil, disabled)
    await school.ok("POST", "/api/v1/disability/placements", 201,
                    json={"student_id": disabled["id"], "placement": "regular_class", "year": day.year})
    semester = current_semester()
    await school.ok("POST", "/api/v1/dropout/verifications", 201,
                    json={"school_code": world.schools["primary"]["code"], "semester": str(semester)})
    # A school-age child of the household whom the registry does not know: not_in_school.
    platform = await platform_client(world.admin, world.code)
    child = {"household_platform_id": household["platform_id"], "name": "赵六",
             "id_number": make_id_number(birth_for("primary", 2)), "statuses": ["registered_poor"]}
    job = await done(platform, await submit(platform, rows=[child]))
    assert job["status"] == "done", job


def _last_school_day() -> date:
    day = local_today() - timedelta(days=1)
    while day.weekday() >= 5:
        day -= timedelta(days=1)
    return day


async def _case_of(api, student: dict) -> dict | None:
    items = (await api.ok("GET", "/api/v1/dropout/cases", params={"student_id": student["id"]}))["items"]
    return items[0] if items else None


async def _projected_in_dropout(db, *students: dict) -> None:
    ids = [uuid.UUID(s["id"]) for s in students]

    async def check():
        return await db.fetchval("SELECT count(*) FROM dropout.student WHERE id = ANY($1)", ids) == len(ids)

    await eventually(check, timeout=20)


async def test_producers_write_full_facts(world: World, db):
    await drive_every_service(world, db)

    async def outboxes() -> dict[str, list[tuple[str, Any]]]:
        out = {}
        for source in SOURCES:
            rows = await db.fetch(f"SELECT type, payload FROM {source}.outbox ORDER BY position")  # noqa: S608
            out[source] = [(r["type"], json.loads(r["payload"])) for r in rows]
        return out

    async def all_driven():
        got = await outboxes()
        return got if DRIVEN <= {t for rows in got.values() for t, _ in rows} else None

    rows = await eventually(all_driven, timeout=60, interval=0.5)
    problems, seen = [], set()
    for source, events in rows.items():
        for event_type, payload in events:
            seen.add(event_type)
            try:
                parsed = parse(payload)
            except ValueError as exc:
                problems.append(f"{source}.outbox {event_type}: does not parse: {exc}")
                continue
            if parsed.source != source or CATALOG[event_type].source != source:
                problems.append(f"{source}.outbox {event_type}: source {parsed.source!r}")
            for field in missing_fields(CATALOG[event_type].data, payload.get("data")):
                problems.append(f"{source}.outbox {event_type}: no {field}")
    problems = sorted(set(problems))
    print(f"\n{sum(map(len, rows.values()))} outbox rows of {len(seen)} types checked")
    # And each of these real events reaches every consumer that listens to its type, applied.
    problems += await applied_by_every_consumer(db, rows)
    print("\n".join(problems))
    assert not problems, f"{len(problems)} problems:\n" + "\n".join(problems)


async def applied_by_every_consumer(db, rows: dict[str, list[tuple[str, Any]]]) -> list[str]:
    """Wait (bounded) until each event is in the inbox of each consumer of its type; return failures."""
    want = {(service, sub.name, payload["id"]): event_type
            for _, events in rows.items() for event_type, payload in events
            for service, sub in subscriptions() if event_type in listened(sub)}
    deadline, done, dead = time.monotonic() + 90, set(), {}
    while time.monotonic() < deadline and len(done) + len(dead) < len(want):
        for service in SOURCES:
            ids = [uuid.UUID(i) for s, _, i in want if s == service]
            for r in await db.fetch(
                    f"SELECT consumer, event_id FROM {service}.inbox WHERE event_id = ANY($1)", ids):  # noqa: S608
                done.add((service, r["consumer"], str(r["event_id"])))
            for r in await db.fetch(f"SELECT consumer, event_id, error FROM {service}.dead_letter "  # noqa: S608
                                    "WHERE event_id = ANY($1)", ids):
                dead[(service, r["consumer"], str(r["event_id"]))] = r["error"]
        await asyncio.sleep(0.5)
    return sorted({f"{k[1]} on {t}: dead-lettered: {dead[k][:300]}" if k in dead else f"{k[1]} on {t}: not applied"
                   for k, t in want.items() if k not in done})


# ---- consumers ---------------------------------------------------------------------------------

def subscriptions() -> list[tuple[str, Subscription]]:
    """Every (service, subscription) the services declare."""
    import importlib

    return [(name, sub) for name in SOURCES
            for sub in importlib.import_module(f"services.{name}.main").SPEC.subscriptions]


def matches(pattern: str, event_type: str) -> bool:
    """NATS subject matching: `*` one token, `>` the rest."""
    want, have = pattern.split("."), event_type.split(".")
    for i, token in enumerate(want):
        if token == ">":
            return len(have) > i
        if i >= len(have) or (token != "*" and token != have[i]):
            return False
    return len(want) == len(have)


def listened(sub: Subscription) -> list[str]:
    return sorted(t for t in CATALOG if any(matches(p, t) for p in sub.subjects))


STATUS = {"student": "enrolled", "case": "open", "batch": "draft", "disbursement": "paid",
          "verification": "open", "objection": "raised", "transfer": "requested", "hardship": "approved"}
KIND = {"student": "suspend", "policy": "grant", "batch": "regular", "case": "home_visit",
        "transfer": "transfer"}


def plausible(event_type: str, name: str, annotation: Any, world: World) -> Any:
    """A value of the right shape for a required field, as a producer in the test county would send."""
    entity = event_type.split(".")[2]
    now, today = datetime.now(UTC), local_today()
    if annotation is bool:
        return False
    if annotation is int:
        return today.year if name in ("year", "school_year") else 1 if name != "amount_fen" else 50000
    model = _model_in(annotation)
    if model is not None:
        one = minimal(model, event_type, world)
        return [one] if get_origin(annotation) is list else one  # a chunk's students: a list of one
    by_name = {
        "code": f"{world.code}100{secrets.randbelow(900) + 100}" if entity == "area"
        else f"2161{secrets.randbelow(10**6):06d}",
        "name": "测试", "head_name": "户主", "level": "village" if entity == "area" else "hard" if entity == "hardship" else "school",
        "area_code": world.villages[0], "school_code": world.schools["primary"]["code"],
        "to_school_code": world.schools["primary"]["code"], "from_area_code": world.code,
        "to_area_code": world.code, "status": STATUS.get(entity, "open"), "kind": KIND.get(entity, "x"),
        "to_status": "suspended", "semester": str(current_semester()), "policy_code": "P-MIN",
        "policy_kind": "grant", "reason": "unexplained" if entity == "absence" else "其他",
        "source": "absences", "placement": "regular_class", "from_level": "school", "trigger": "timer",
        "id_number_hash": secrets.token_hex(32), "requested_by": "tester",
        "occurred_at": now.isoformat(), "acknowledged_at": now.isoformat(),
        "as_of": today.isoformat(), "content_type": "image/jpeg", "sha256": secrets.token_hex(32),
        "loan_kind": "origin_credit", "lender": "国家开发银行", "repayment_status": "in_school",
        "payer_name": "贵州省毕节市七星关区", "helper_name": "帮扶教师", "since": today.isoformat(),
        "month": today.strftime("%Y-%m"), "role": "head_teacher", "line": "education", "step_kind": "notice",
        "relation": "mother", "account_kind": "bank_card", "account_masked": "622848*********1234",
        "bank_name": "陕西信合", "event": "created",
    }
    if name in by_name:
        return by_name[name]
    if name == "id" or name.endswith("_id"):
        return str(uuid.uuid4())
    if name == "date" or name.endswith(("_on", "_date")):
        return _last_school_day().isoformat() if name == "date" else today.isoformat()
    raise AssertionError(f"no plausible value for required field {event_type} {name}: add one")


def minimal(model: type[BaseModel], event_type: str, world: World) -> dict[str, Any]:
    """Return a model's required fields only, each with a plausible value."""
    return {name: plausible(event_type, name, field.annotation, world)
            for name, field in model.model_fields.items() if field.is_required()}


def minimal_event(event_type: str, world: World) -> dict[str, Any]:
    spec = CATALOG[event_type]
    data = minimal(spec.data, event_type, world)
    subject = next((data[k] for k in ("id", "case_id", "code") if k in data), str(uuid.uuid4()))
    return {"id": str(uuid.uuid4()), "type": event_type, "source": spec.source,
            "time": datetime.now(UTC).isoformat(), "subject": str(subject), "data": data}


def test_minimal_events_parse():
    """What the consumer test sends is a valid event of its type, with no optional field in data."""
    stub = World(admin=None, code="619999", stack=None, villages=["619999100201"],
                 schools={"primary": {"code": "2161000001"}})
    for event_type, spec in CATALOG.items():
        event = minimal_event(event_type, stub)
        parse(event)
        optional = {n for n, f in spec.data.model_fields.items() if not f.is_required()}
        assert not optional & set(event["data"]), event_type


@pytest.mark.parametrize("service,name", [(s, sub.name) for s, sub in subscriptions()])
async def test_consumer_applies_minimal_events(service: str, name: str, world: World, db, stack):
    sub = next(sub for s, sub in subscriptions() if sub.name == name)
    types = listened(sub)
    assert types, f"{name} listens to no catalogued type"
    env = stack.env
    prefix = env.get("NOL_SUBJECT_PREFIX") or "edu"
    sent = {}
    nc = await nats.connect(env["NOL_NATS_URL"].split(",")[0])
    try:
        js = nc.jetstream()
        for event_type in types:
            event = minimal_event(event_type, world)
            sent[event["id"]] = event_type
            await js.publish(f"{prefix}.{event_type.partition('.')[2]}", json.dumps(event).encode(),
                             stream=env.get("NOL_STREAM") or "EDU", headers={"Nats-Msg-Id": event["id"]})
    finally:
        await nc.close()
    ids = [uuid.UUID(i) for i in sent]
    deadline, applied, dead = time.monotonic() + 60, set(), {}
    while time.monotonic() < deadline and len(applied) + len(dead) < len(ids):
        applied = {str(r["event_id"]) for r in await db.fetch(
            f"SELECT event_id FROM {service}.inbox WHERE event_id = ANY($1) AND consumer = $2",  # noqa: S608
            ids, name)}
        dead = {str(r["event_id"]): r["error"] for r in await db.fetch(
            f"SELECT event_id, error FROM {service}.dead_letter WHERE event_id = ANY($1)", ids)}  # noqa: S608
        await asyncio.sleep(0.3)
    failures = [f"{sent[i]}: dead-lettered: {dead[i][:300]}" for i in dead] + [
        f"{sent[i]}: not applied within 60 s" for i in sent if i not in applied and i not in dead]
    print(f"\n{name}: {len(applied)} of {len(sent)} minimal events applied")
    assert not failures, f"{name} fails on events with only the required fields:\n" + "\n".join(failures)


# ---- the committed AsyncAPI document -----------------------------------------------------------

def test_asyncapi_lists_every_type():
    doc = yaml.safe_load((ROOT / "openapi" / "asyncapi.yaml").read_text(encoding="utf-8"))
    listed = {m["name"] for m in doc["components"]["messages"].values()}
    channels = {c["address"] for c in doc["channels"].values()}
    assert set(CATALOG) <= listed, f"not in openapi/asyncapi.yaml: {sorted(set(CATALOG) - listed)}"
    assert set(CATALOG) <= channels
    for spec in CATALOG.values():
        assert spec.data.__name__ in doc["components"]["schemas"], spec.type
