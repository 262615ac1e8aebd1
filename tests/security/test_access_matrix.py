"""Every operation × every role × {in scope, out of scope}, against the access matrix.

First the matrix must cover the live OpenAPI exactly. Then two fresh counties: A holds a user
of every role; A and B hold records of every kind. Each operation is called as each role of A
on A's records (in scope) and on B's (out of scope) — township, school and village users also
on those of A's second township, outside their scope too — and fails on any leak: a role not
allowed that gets through, an out-of-scope record that answers anything but the matrix's
refusal, a list with a row outside the caller's scope, an answer naming anything of county B
the request did not name, a full ID number (outside an allowed reveal), an unmasked name on a
public notice.
Prints the matrix's size (operations × roles × 2) and the calls made.

The same calls go straight to the service ports too, unsigned (kit.auth.DirectReads): a plain
read by a staff token is answered as the gateway answers it; a write, a reveal or any call of a
platform client is refused there (403 `gateway_only`).
"""

import asyncio
import dataclasses
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from api_gateway.routing import service_for
from deploy.stack import Stack
from services.kit.settings import SERVICES
from tests import conftest
from tests.helpers import Api, eventually
from tests.security import access_matrix as m
from tests.security.matrix_calls import BUILDERS, Call
from tests.security.matrix_world import Place, Setting, build

HTTP_METHODS = {"get", "post", "put", "patch", "delete"}
LAST = ("POST", "/api/v1/stats/rebuild")  # replays every projection: after everything else
CONCURRENT_OPERATIONS = 8
MAX_PAGES = 20
SUB_LISTS = ("/history", "/objections", "/findings")  # lists under a record (a notice's items are its own)


@dataclass
class Me:
    role: str
    area: str
    school: str | None = None


IN, OUT, SIBLING = "in scope", "out of scope", "out of scope (A's second township)"


@dataclass
class Tally:
    calls: Counter = field(default_factory=Counter)  # by mode
    not_applicable: Counter = field(default_factory=Counter)
    statuses: Counter = field(default_factory=Counter)
    unprocessable: list[str] = field(default_factory=list)  # 422s, each justified by the matrix
    failures: list[str] = field(default_factory=list)


def operations(spec: dict) -> set[tuple[str, str]]:
    return {
        (method.upper(), path)
        for path, item in spec["paths"].items()
        for method in item
        if method in HTTP_METHODS
    }


async def test_matrix_covers_the_openapi(stack: Stack, api: Api):
    spec = (await api.client.get("/openapi.json")).json()
    live = operations(spec)
    committed = operations(json.loads((Path(__file__).parents[2] / "openapi" / "gateway.json").read_text()))
    assert live == committed, "the committed openapi/gateway.json is stale: run `make openapi`"
    assert sorted(live - m.MATRIX.keys()) == [], "operations without a matrix entry"
    assert sorted(m.MATRIX.keys() - live) == [], "matrix entries for operations that do not exist"
    assert BUILDERS.keys() == m.MATRIX.keys(), "every entry needs its calls"
    for key, access in m.MATRIX.items():
        assert access.roles <= set(m.ROLES) and access.scope in m.SCOPES, key
        assert not (access.outside == 422 and not access.code), f"{key}: a 422 names its error code"
    print(f"\naccess matrix covers {len(live)}/{len(live)} operations (100%)")


def me_of(s: Setting, role: str) -> Me:
    a = s.a
    return {
        m.ADMIN: Me(role, a.code),
        m.COUNTY: Me(role, a.code),
        m.PLATFORM: Me(role, a.code),
        m.TOWNSHIP: Me(role, a.t0),
        m.SCHOOL: Me(role, a.t0, a.primary),
        m.VILLAGE: Me(role, a.v0),
    }[role]


def place_of(s: Setting, item: dict) -> Place:
    """Where a row lies: by the student, record, code or school it names, else by its own fields."""
    for key in ("student_id", "id", "batch_id", "code", "actor", "school_code"):
        value = item.get(key)
        if value is not None and str(value) in s.places:
            return s.places[str(value)]
    enrollment = item.get("enrollment") or {}
    return Place(
        item.get("area_code") or item.get("code") or "",
        item.get("school_code") or enrollment.get("school_code"),
        item.get("village_code"),
    )


MANAGED = {
    m.ADMIN: set(m.ROLES),
    m.COUNTY: {"county", "township", "school", "village"},
    m.TOWNSHIP: {"township", "school", "village"},
}


def sees(me: Me, rule: str, place: Place, item: dict) -> bool:
    """Whether the caller may see a row of this place under the scope rule."""
    area, village = place.area or "", place.village or ""
    inside = bool(area) and area.startswith(me.area)
    if rule == "global":  # the same for every allowed caller (e.g. the deployment's event consumers)
        return True
    if rule in ("area", "policy", "lock", "roster", "calendar"):
        return inside or (bool(area) and me.area.startswith(area))
    if rule == "user":
        return inside and item.get("role") in MANAGED.get(me.role, set())
    if rule == "task" and me.role != m.ADMIN and item.get("role") not in (None, me.role):
        return False
    if rule == "household" and me.role == m.SCHOOL:
        return me.school in place.schools
    if me.role == m.SCHOOL and rule in ("school", "student", "batch", "check", "publicity", "task", "transfer"):
        return place.school == me.school
    if me.role == m.VILLAGE:
        if rule == "school":
            return area.startswith(me.area[:9])
        lines = [str(x.get("village_code") or "") for x in item.get("lines") or []]
        if rule == "publicity" and (
            me.area in place.villages or (lines and all(v.startswith(me.area) for v in lines))
        ):
            return True
        if rule in ("student", "task", "publicity"):
            return village.startswith(me.area)
        if rule in ("batch", "check"):
            return False
    return inside


def row_problems(s: Setting, key: tuple[str, str], access: m.Access, me: Me, body: Any) -> list[str]:
    """Rows of a list (and lines of a notice) outside the caller's scope."""
    out = []
    listed = "{" not in key[1] or key[1].endswith(SUB_LISTS)
    items = (
        body.get("items") if listed and isinstance(body, dict) and isinstance(body.get("items"), list) else []
    )
    for item in items:
        if not isinstance(item, dict):
            continue
        if key[1].endswith("/findings"):  # a township reads the county's roster: its own findings only
            ok = str(item.get("area_code", "")).startswith(me.area) or s.a.code.startswith(me.area)
        elif key[1].startswith("/api/v1/changes/"):  # a feed entry: the record it carries, else its codes
            rule = {"household": "household", "task": "task"}.get(item["resource"], access.scope)
            now = item.get("item")  # a tombstone or left_scope entry: where the record was then
            then = Place(item.get("area_code") or "", item.get("school_code"), item.get("village_code"))
            ok = sees(me, rule, place_of(s, now) if now else then, now or item)
        elif key[1].endswith("/lookup"):  # each key answered with its record, or null (unknown or not yours)
            found = item.get("household") or item.get("student")
            ok = found is None or sees(me, access.scope, place_of(s, found), found)
        else:
            ok = sees(me, access.scope, place_of(s, item), item)
        if not ok:
            out.append(f"row outside the caller's scope: {json.dumps(item, ensure_ascii=False)[:300]}")
    if me.role == m.VILLAGE:
        notices = items if key[1] == "/api/v1/subsidy/publicity" else [body] if isinstance(body, dict) else []
        for notice in notices:
            for line in notice.get("lines") or []:
                if not str(line.get("village_code") or "").startswith(me.area):
                    out.append(f"a village user sees another village's line: {line}")
    return out


def request_text(call: Call) -> str:
    files = "".join(f[1].decode(errors="replace") for f in (call.files or {}).values())
    return " ".join(
        [
            call.path,
            json.dumps(call.params or {}),
            json.dumps(call.json, ensure_ascii=False),
            json.dumps(call.data or {}),
            files,
        ]
    )


def without(body: Any, keys: tuple[str, ...]) -> Any:
    """The body without the fields named (at any depth)."""
    if isinstance(body, dict):
        return {k: without(v, keys) for k, v in body.items() if k not in keys}
    if isinstance(body, list):
        return [without(v, keys) for v in body]
    return body


def content_problems(
    s: Setting, key, access: m.Access, role: str, inside: bool, call: Call, text: str
) -> list[str]:
    """Anything of county B the request did not name, full ID numbers, unmasked names."""
    out = []
    asked = request_text(call)
    scanned = json.dumps(without(json.loads(text), access.echo), ensure_ascii=False) if access.echo else text
    leaked = {t for t in s.b_tokens if t in scanned and t not in asked}
    area = rf"(?<!\d){s.b.code}(?:\d{{3}}){{0,2}}(?!\d)"
    leaked |= {x for x in re.findall(area, scanned) if x not in asked}
    if leaked:
        out.append(f"names county B's {sorted(leaked)[:5]}")
    revealed = (
        s.id_of.get(str(s.a.rec["sMain"]["id"]))
        if (call.reveal and inside and role in access.reveal)
        else None
    )
    full = {n for n in s.id_numbers if n in text and n != revealed and n not in asked}
    if full and m.FULL_ID in access.never_shows:
        out.append(f"shows {len(full)} full ID number(s)")
    if m.FULL_NAME in access.never_shows and (names := {n for n in s.names if n in text}):
        out.append(f"shows unmasked name(s) {sorted(names)[:3]}")
    if revealed and revealed not in text:
        out.append("an allowed reveal does not show the ID number")
    return out


def status_problem(
    access: m.Access, role: str, inside: bool, call: Call, status: int, body: Any
) -> str | None:
    allowed = role in access.roles and (not call.reveal or role in access.reveal or not inside)
    items = body.get("items") if isinstance(body, dict) else None
    if inside and allowed:
        return None if status < 300 else "allowed in scope but refused"
    if not allowed:
        want = m.expected_refusal(access, role) if role not in access.roles else 403
        if want == m.EMPTY:
            return None if status == 200 and not items else f"expected an empty list, got {len(items or [])}"
        accepted = {want} if inside else {want, 403, 404}
        return None if status in accepted else f"role not allowed: expected {sorted(accepted)}"
    if access.outside == m.EMPTY and not call.outside:
        return None if status == 200 else "expected 200 without the other area's rows"
    if access.outside == m.ROWS:
        return None if status == 202 else "expected 202 and the rows refused"
    outside, code = (call.outside, call.code) if call.outside else (access.outside, access.code)
    if status != outside:
        return f"out of scope: expected {outside}"
    if code and (body or {}).get("errors", [{}])[0].get("code") != code:
        return f"out of scope: expected error code {code}"
    return None


async def send(
    s: Setting, role: str, call: Call, via: httpx.AsyncClient | None = None
) -> tuple[httpx.Response, Any]:
    """Make the call as the role (through the gateway, or `via` a service port); follow a list's
    cursor; return the response and the (merged) body."""
    user = s.a.users[role]
    client = via or user.client
    headers = {"Authorization": f"Bearer {user.token}"} if call.auth else {}
    params = dict(call.params or {})
    kw: dict[str, Any] = {"params": params, "headers": headers}
    if call.json is not None:
        kw["json"] = call.json
    if call.data is not None:
        kw["data"] = call.data
    if call.files is not None:
        kw["files"] = call.files
    resp = await client.request(call.method, call.path, **kw)
    body = resp.json() if "json" in resp.headers.get("content-type", "") and resp.content else None
    pages = 1
    while isinstance(body, dict) and body.get("next_cursor") and call.method == "GET" and pages < MAX_PAGES:
        more = await client.get(call.path, params={**params, "cursor": body["next_cursor"]}, headers=headers)
        nxt = more.json()
        body = {**body, "items": body["items"] + nxt["items"], "next_cursor": nxt.get("next_cursor")}
        pages += 1
    return resp, body


NARROW = (m.TOWNSHIP, m.SCHOOL, m.VILLAGE)


def order(key: tuple[str, str], access: m.Access) -> list[tuple[str, str]]:
    """Out of scope first (county B; for the narrower roles also A's second township), then refused
    roles, then allowed ones (whose calls may change records)."""
    refused = [r for r in m.ROLES if r not in access.roles]
    allowed = [r for r in m.ROLES if r in access.roles]
    return (
        [(r, OUT) for r in m.ROLES]
        + [(r, SIBLING) for r in NARROW if access.sibling]
        + [(r, IN) for r in refused]
        + [(r, IN) for r in allowed]
    )


def sibling_view(s: Setting) -> Setting:
    """The setting with A's second township in the place of county B."""
    pools = {**s.pools, **{("task_b", r): v for (p, r), v in s.pools.items() if p == "task_sibling"}}
    return dataclasses.replace(s, b=s.sibling, pools=pools)


async def run_operation(s: Setting, key: tuple[str, str], tally: Tally) -> None:
    access = m.MATRIX[key]
    for role, mode in order(key, access):
        inside = mode == IN
        try:
            built = await BUILDERS[key](sibling_view(s) if mode == SIBLING else s, role, inside)
        except KeyError:
            if mode != SIBLING:
                raise
            built = None  # no record of that kind in the second township
        if built is None:
            tally.not_applicable[mode] += 1
            continue
        for call in built if isinstance(built, list) else [built]:
            resp, body = await send(s, role, call)
            tally.calls[mode] += 1
            tally.statuses[resp.status_code] += 1
            where = f"{key[0]} {key[1]} as {role} {mode}"
            if call.reveal:
                where += " (?reveal=id_number)"
            problems = []
            if problem := status_problem(access, role, inside, call, resp.status_code, body):
                problems.append(f"{problem} — got {resp.status_code}")
            if resp.status_code == 422:
                why = f"{call.code or access.code} ({access.note or m.NOT_LISTED_422})"
                tally.unprocessable.append(f"{where}: {why}")
            problems += content_problems(s, key, access, role, inside, call, resp.text)
            if resp.status_code == 200:
                problems += row_problems(s, key, access, me_of(s, role), body)
                if inside and role in access.roles and call.expect and call.expect not in json.dumps(body):
                    problems.append(f"does not show {call.expect}, which is in scope")
            if resp.status_code < 300 and call.after:
                try:
                    await call.after(s.a.users[role], body, inside)
                except AssertionError as exc:
                    problems.append(str(exc))
            if problems:
                tally.failures.append(f"{where}: {'; '.join(problems)} :: {resp.text[:300]}")


@pytest.fixture(scope="module")
async def setting(stack: Stack, api: Api, owner_url: str) -> Setting:
    """Counties A, B and C with every record the matrix needs (built once for this module)."""
    codes = tuple(f"61{9000 - next(conftest._counties):04d}" for _ in range(3))
    started = time.monotonic()
    db = await asyncpg.connect(owner_url)
    try:
        s = await build(api, stack, db, codes)
    finally:
        await db.close()
    print(f"\nmatrix world built in {time.monotonic() - started:.1f}s")
    return s


async def test_every_operation_as_every_role(setting: Setting):
    s = setting
    built = time.monotonic()
    tally = Tally()
    gate = asyncio.Semaphore(CONCURRENT_OPERATIONS)

    async def one(key):
        async with gate:
            await run_operation(s, key, tally)

    await asyncio.gather(*(one(key) for key in m.MATRIX if key != LAST))
    await run_operation(s, LAST, tally)
    await caught_up(s.admin)
    ops, cells = m.size()
    made = tally.calls[IN] + tally.calls[OUT]
    print(
        f"\naccess matrix: {ops} operations × {len(m.ROLES)} roles × 2 scopes = {cells} cells; "
        f"{cells - tally.not_applicable[OUT]} called ({tally.not_applicable[OUT]} have nothing out of scope), "
        f"{made} calls; plus {tally.calls[SIBLING]} calls by township, school and village users on "
        f"records of A's second township; statuses {dict(sorted(tally.statuses.items()))}; "
        f"calls {time.monotonic() - built:.1f}s"
    )
    print(f"422 answers: {len(tally.unprocessable)} (each an out-of-scope reference the matrix names)")
    for line in tally.unprocessable:
        print("  ", line)
    assert not tally.failures, f"{len(tally.failures)} leaks or mismatches:\n" + "\n".join(
        sorted(tally.failures)
    )


async def caught_up(admin: Api) -> None:
    """Wait until the rebuild has replayed the stream, so later tests see settled projections."""

    async def done():
        resp = await admin.get("/api/v1/stats/rebuild")
        return resp.status_code == 200 and resp.json()["pending"] == 0 and resp.json()["unacknowledged"] == 0

    await eventually(done, timeout=60, interval=0.3)


def gateway_only(resp: httpx.Response) -> bool:
    problem = resp.headers.get("content-type", "").startswith("application/problem+json")
    return resp.status_code == 403 and problem and resp.json()["type"].endswith("/gateway_only")


async def direct_operation(s: Setting, key: tuple[str, str], port: httpx.AsyncClient, tally: Tally) -> None:
    """Each call of the matrix, unsigned on the owning service's port: plain reads by staff answered
    as through the gateway (and leaking nothing the gateway would not), everything else refused."""
    access = m.MATRIX[key]
    for role, mode in order(key, access):
        inside = mode == IN
        try:
            built = await BUILDERS[key](sibling_view(s) if mode == SIBLING else s, role, inside)
        except KeyError:
            if mode != SIBLING:
                raise
            built = None
        for call in built if isinstance(built, list) else [built] if built else []:
            where = f"{key[0]} {key[1]} as {role} {mode}" + (" (?reveal=id_number)" if call.reveal else "")
            direct, body = await send(s, role, call, via=port)
            tally.calls[mode] += 1
            tally.statuses[direct.status_code] += 1
            if call.method not in ("GET", "HEAD") or call.reveal or call.gateway_only or role == m.PLATFORM:
                if not gateway_only(direct):
                    tally.failures.append(f"{where}: not refused on the port :: {direct.text[:300]}")
                continue
            gateway, _ = await send(s, role, call)
            problems = []
            if direct.status_code != gateway.status_code:
                problems.append(f"the gateway answers {gateway.status_code}, the port {direct.status_code}")
            problems += content_problems(s, key, access, role, inside, call, direct.text)
            if direct.status_code == 200:
                problems += row_problems(s, key, access, me_of(s, role), body)
            if problems:
                tally.failures.append(f"{where}: {'; '.join(problems)} :: {direct.text[:300]}")


WATCHED = (  # records the in-scope writes act on: still as they were after the unsigned writes
    ("sPatch", "/api/v1/students/{}"),
    ("sEnroll0", "/api/v1/students/{}"),
    ("hPatch", "/api/v1/households/{}"),
    ("cPatch", "/api/v1/dropout/cases/{}"),
    ("plPatch", "/api/v1/disability/placements/{}"),
)


async def watched(s: Setting) -> dict[str, Any]:
    got = {key: (await s.admin.ok("GET", path.format(rid_of(s, key))))["version"] for key, path in WATCHED}
    for pool in ("tr_accept", "tr_reject", "tr_cancel"):
        transfer = s.pools[(pool, m.COUNTY)]
        got[pool] = (await s.admin.ok("GET", f"/api/v1/transfers/{transfer['id']}"))["status"]
    return got


def rid_of(s: Setting, key: str) -> str:
    value = s.a.rec[key]
    return str(value["id"]) if isinstance(value, dict) else str(value)


async def test_the_access_matrix_also_on_the_service_ports(stack: Stack, setting: Setting):
    """Every call of the matrix that a service owns, made on that service's own port with the
    caller's valid token but without the gateway's signature: plain reads (GET without `reveal`) by
    staff get the gateway's answer — the same status, in scope only, out of scope 404 there too — and
    pass the same leak checks; writes, reveals and every call of a platform client are refused before
    they are routed (403 `gateway_only`), so nothing the gateway's audit, limits or platform
    restriction would not see happens there."""
    s = setting
    owned = sorted(key for key in m.MATRIX if service_for(key[1]))
    before = await watched(s)
    tally = Tally()
    ports = {svc: httpx.AsyncClient(base_url=stack.url(svc), timeout=30) for svc in SERVICES}
    gate = asyncio.Semaphore(CONCURRENT_OPERATIONS)

    async def one(key):
        async with gate:
            await direct_operation(s, key, ports[service_for(key[1])], tally)

    try:
        await asyncio.gather(*(one(key) for key in owned))
    finally:
        await asyncio.gather(*(port.aclose() for port in ports.values()))
    after = await watched(s)
    made = sum(tally.calls.values())
    print(
        f"\nservice ports: {len(owned)} operations, {made} unsigned calls "
        f"({dict(tally.calls)}); statuses {dict(sorted(tally.statuses.items()))}"
    )
    assert after == before, "an unsigned write changed a record"
    assert len(owned) > 50 and tally.calls[IN] and tally.calls[OUT]
    assert {200, 403, 404} <= set(tally.statuses), "the port should serve reads, refuse the rest"
    assert not tally.failures, f"{len(tally.failures)} mismatches:\n" + "\n".join(sorted(tally.failures))
