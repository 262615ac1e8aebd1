"""One request per operation, role and scope: real ids of county A (in scope) or B (out of scope).

Bodies are valid, so a call reaches the scope decision; a builder returns None where the
operation has nothing out of scope (`outside` is None in the matrix).
"""

import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from tests.helpers import USER_PASSWORD, Api, birth_for, eventually, make_id_number
from tests.security import access_matrix as m
from tests.security.matrix_world import (
    EVIDENCE_JPEG,
    PAST,
    TODAY,
    County,
    Setting,
    aid_body,
    loan_body,
    name3,
    outside_roster_csv,
    payee_body,
    policy_body,
    roster_child,
    students_csv,
)


@dataclass
class Call:
    method: str
    path: str
    params: dict[str, Any] | None = None
    json: Any = None
    data: dict[str, Any] | None = None
    files: dict[str, Any] | None = None
    auth: bool = True  # send the role's bearer token
    expect: str | None = None  # an id or code an allowed, in-scope answer must contain
    reveal: bool = False
    gateway_only: bool = False  # a read that shows identifiers whole (audited): refused on a service port
    outside: int | None = None  # this call's answer out of scope, where it differs from the matrix's
    code: str | None = None
    after: Callable[[Api, Any, bool], Awaitable[None]] | None = None  # (caller, body, inside)


Builder = Callable[[Setting, str, bool], Awaitable[Call | list[Call] | None]]
BUILDERS: dict[tuple[str, str], Builder] = {}


def op(method: str, path: str):
    def register(fn: Builder) -> Builder:
        BUILDERS[(method, path)] = fn
        return fn

    return register


def county(s: Setting, inside: bool) -> County:
    return s.a if inside else s.b


def rid(c: County, key: str) -> str:
    value = c.rec[key]
    return str(value["id"]) if isinstance(value, dict) else str(value)


async def version(s: Setting, path: str) -> int:
    """The current version of a record, read by the session's admin (it sees both counties)."""
    return (await s.admin.ok("GET", path))["version"]


def listing(
    path: str, key: str, value: Callable[[County], str] = lambda c: c.code, expect: str | None = None
):
    """A list: unfiltered in scope; filtered to B's `key` (by default its county code) out of scope."""

    async def build(s: Setting, role: str, inside: bool) -> Call:
        if inside:
            return Call("GET", path, params={"limit": 500}, expect=rid(s.a, expect) if expect else None)
        return Call("GET", path, params={key: value(s.b), "limit": 500})

    return build


def record(method: str, template: str, key: str, body: Any = None, **kw: Any):
    """One record named in the path: A's or B's probe."""

    async def build(s: Setting, role: str, inside: bool) -> Call:
        c = county(s, inside)
        return Call(method, template.format(rid(c, key)), json=body, **kw)

    return build


def unscoped(call: Call):
    async def build(s: Setting, role: str, inside: bool) -> Call | None:
        return call if inside else None

    return build


def pooled(method: str, template: str, pool: str, b_key: str, body: Any = None):
    """A record of its own for each allowed role (the call changes it); B's probe out of scope."""

    async def build(s: Setting, role: str, inside: bool) -> Call:
        if inside:
            value = s.pools.get((pool, role)) or s.pools[(pool, min(r for (p, r) in s.pools if p == pool))]
            value = value["id"] if isinstance(value, dict) else value
        else:
            value = rid(s.b, b_key)
        return Call(method, template.format(value), json=body)

    return build


# Gateway ---------------------------------------------------------------------------------------

BUILDERS[("GET", "/.well-known/jwks.json")] = unscoped(Call("GET", "/.well-known/jwks.json", auth=False))
BUILDERS[("GET", "/api/v1/meta/labels")] = unscoped(Call("GET", "/api/v1/meta/labels", auth=False))
BUILDERS[("GET", "/.well-known/revocations.json")] = unscoped(
    Call("GET", "/.well-known/revocations.json", auth=False)
)


def credentials(s: Setting, role: str) -> dict[str, str]:
    if role == m.PLATFORM:
        return {"grant_type": "client_credentials", **s.platform_secret}
    return {"grant_type": "password", "username": s.a.users[role].username, "password": USER_PASSWORD}


@op("POST", "/api/v1/auth/token")
async def _token(s: Setting, role: str, inside: bool) -> Call | None:
    return Call("POST", "/api/v1/auth/token", data=credentials(s, role), auth=False) if inside else None


async def fresh_refresh_token(s: Setting, role: str) -> str:
    """A refresh token of a login of its own (platform clients get none: an arbitrary string)."""
    if role == m.PLATFORM:
        return secrets.token_urlsafe(32)
    resp = await s.admin.client.post("/api/v1/auth/token", data=credentials(s, role))
    assert resp.status_code == 200, resp.text
    return resp.json()["refresh_token"]


@op("POST", "/api/v1/auth/refresh")
async def _refresh(s: Setting, role: str, inside: bool) -> Call | None:
    if not inside:
        return None
    return Call(
        "POST", "/api/v1/auth/refresh", json={"refresh_token": await fresh_refresh_token(s, role)}, auth=False
    )


@op("POST", "/api/v1/auth/logout")
async def _logout(s: Setting, role: str, inside: bool) -> Call | None:
    if not inside:
        return None
    return Call(
        "POST", "/api/v1/auth/logout", json={"refresh_token": await fresh_refresh_token(s, role)}, auth=False
    )


BUILDERS[("GET", "/api/v1/auth/me")] = unscoped(Call("GET", "/api/v1/auth/me"))
BUILDERS[("GET", "/api/v1/users")] = listing("/api/v1/users", "area_code", expect="uRead")


@op("POST", "/api/v1/users")
async def _create_user(s: Setting, role: str, inside: bool) -> list[Call]:
    c = county(s, inside)
    body = {"password": USER_PASSWORD, "role": "village", "area_code": c.v0}
    calls = [Call("POST", "/api/v1/users", json={**body, "username": f"mx_new_{secrets.token_hex(4)}"})]
    if not inside:  # a school user in the caller's own area, but of a school outside it
        school = {"role": "school", "area_code": s.a.t0, "school_code": c.primary}
        calls.append(
            Call(
                "POST",
                "/api/v1/users",
                outside=422,
                code="unknown_school",
                json={**body, **school, "username": f"mx_new_{secrets.token_hex(4)}"},
            )
        )
    return calls


BUILDERS[("GET", "/api/v1/users/{user_id}")] = record("GET", "/api/v1/users/{}", "uRead")


@op("PATCH", "/api/v1/users/{user_id}")
async def _patch_user(s: Setting, role: str, inside: bool) -> list[Call]:
    c = county(s, inside)
    path = f"/api/v1/users/{rid(c, 'uPatch' if inside else 'uRead')}"
    calls = [Call("PATCH", path, json={"version": await version(s, path), "disabled": False})]
    if not inside:  # A's school user given a school outside the caller's area
        path = f"/api/v1/users/{rid(s.a, 'uSchool')}"
        body = {"version": await version(s, path), "school_code": c.primary}
        calls.append(Call("PATCH", path, json=body, outside=422, code="unknown_school"))
    return calls


def _toggle(action: str):
    async def build(s: Setting, role: str, inside: bool) -> Call:
        c = county(s, inside)
        return Call("POST", f"/api/v1/users/{rid(c, 'uToggle' if inside else 'uRead')}/{action}")

    return build


BUILDERS[("POST", "/api/v1/users/{user_id}/disable")] = _toggle("disable")
BUILDERS[("POST", "/api/v1/users/{user_id}/enable")] = _toggle("enable")
BUILDERS[("GET", "/api/v1/clients")] = unscoped(Call("GET", "/api/v1/clients", params={"limit": 500}))


@op("POST", "/api/v1/clients")
async def _create_client(s: Setting, role: str, inside: bool) -> Call:
    return Call("POST", "/api/v1/clients", json={"name": "测试平台", "area_code": county(s, inside).code})


BUILDERS[("POST", "/api/v1/clients/{client_id}/disable")] = record(
    "POST", "/api/v1/clients/{}/disable", "client"
)
BUILDERS[("POST", "/api/v1/clients/{client_id}/enable")] = record(
    "POST", "/api/v1/clients/{}/enable", "client"
)
BUILDERS[("POST", "/api/v1/clients/{client_id}/secret")] = record("POST", "/api/v1/clients/{}/secret", "client")
BUILDERS[("POST", "/api/v1/clients/{client_id}/webhooks")] = record(
    "POST", "/api/v1/clients/{}/webhooks", "client",
    body={"url": "http://127.0.0.1:9/hook", "events": ["edu.registry.area.updated"]},
)


def _hook(s: Setting, role: str, inside: bool) -> tuple[str, str]:
    """A webhook's client and id: the platform role's own, or the county's client's."""
    c = county(s, inside)
    if role == m.PLATFORM and inside:
        return s.platform_secret["client_id"], rid(c, "pwebhook")
    return rid(c, "client"), rid(c, "webhook")


@op("GET", "/api/v1/clients/{client_id}/webhooks")
async def _webhooks(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", f"/api/v1/clients/{_hook(s, role, inside)[0]}/webhooks")


@op("POST", "/api/v1/clients/{client_id}/webhooks/{webhook_id}/disable")
async def _disable_webhook(s: Setting, role: str, inside: bool) -> Call:
    return Call("POST", "/api/v1/clients/{}/webhooks/{}/disable".format(*_hook(s, role, inside)))


@op("GET", "/api/v1/clients/{client_id}/webhooks/{webhook_id}/deliveries")
async def _deliveries(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", "/api/v1/clients/{}/webhooks/{}/deliveries".format(*_hook(s, role, inside)))


@op("GET", "/api/v1/audit")
async def _audit(s: Setting, role: str, inside: bool) -> Call:
    if inside:
        return Call("GET", "/api/v1/audit", params={"limit": 500})
    return Call("GET", "/api/v1/audit", params={"actor": s.b.users["county"].username, "limit": 500})


BUILDERS[("GET", "/api/v1/tasks")] = listing("/api/v1/tasks", "student_id", lambda c: rid(c, "sMain"))
# Change feeds (services/kit/changes.py): the caller's own entries only, from the beginning.
for _family in ("students", "cases", "disbursements"):
    BUILDERS[("GET", f"/api/v1/changes/{_family}")] = unscoped(
        Call("GET", f"/api/v1/changes/{_family}", params={"limit": 1000})
    )


# Registry --------------------------------------------------------------------------------------

_area_seq = iter(range(300, 999))

BUILDERS[("GET", "/api/v1/areas")] = listing("/api/v1/areas", "area_code")


@op("POST", "/api/v1/areas")
async def _create_area(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST", "/api/v1/areas", json={"code": f"{county(s, inside).t0}{next(_area_seq)}", "name": "新村"}
    )


@op("GET", "/api/v1/areas/{code}")
async def _read_area(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", f"/api/v1/areas/{county(s, inside).v0}")


@op("PATCH", "/api/v1/areas/{code}")
async def _patch_area(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/areas/{county(s, inside).v0}"
    return Call("PATCH", path, json={"name": "测试村", "version": await version(s, path)})


BUILDERS[("GET", "/api/v1/schools")] = listing("/api/v1/schools", "area_code")


@op("POST", "/api/v1/schools")
async def _create_school(s: Setting, role: str, inside: bool) -> Call:
    code = f"2161{secrets.randbelow(10**6):06d}"
    return Call(
        "POST",
        "/api/v1/schools",
        json={
            "code": code,
            "name": f"新建小学{code[-4:]}",
            "area_code": county(s, inside).t0,
            "stages": ["primary"],
        },
    )


@op("GET", "/api/v1/schools/{code}")
async def _read_school(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", f"/api/v1/schools/{county(s, inside).primary}")


@op("PATCH", "/api/v1/schools/{code}")
async def _patch_school(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/schools/{county(s, inside).primary}"
    current = await s.admin.ok("GET", path)
    return Call("PATCH", path, json={"name": current["name"], "version": current["version"]})


BUILDERS[("GET", "/api/v1/households")] = listing("/api/v1/households", "area_code", expect="hMain")


@op("POST", "/api/v1/households")
async def _create_household(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST",
        "/api/v1/households",
        json={
            "head_name": name3(),
            "area_code": county(s, inside).v0,
            "platform_id": f"P{secrets.token_hex(6)}",
        },
    )


BUILDERS[("GET", "/api/v1/households/{household_id}")] = record("GET", "/api/v1/households/{}", "hMain")


def _lookup_keys(s: Setting, inside: bool) -> dict:
    c = county(s, inside)
    return {"id_numbers": [s.id_of[rid(c, "sMain")]]}


@op("POST", "/api/v1/households/lookup")
async def _lookup_households(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    body = {"platform_ids": [c.rec["hMain"]["platform_id"]], **_lookup_keys(s, inside)}
    return Call("POST", "/api/v1/households/lookup", json=body, expect=rid(c, "hMain") if inside else None)


@op("POST", "/api/v1/students/lookup")
async def _lookup_students(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    body = {"ids": [rid(c, "sMain")], **_lookup_keys(s, inside)}
    return Call("POST", "/api/v1/students/lookup", json=body, expect=rid(c, "sMain") if inside else None)


@op("PATCH", "/api/v1/households/{household_id}")
async def _patch_household(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/households/{rid(county(s, inside), 'hPatch')}"
    return Call("PATCH", path, json={"head_name": name3(), "version": await version(s, path)})


BUILDERS[("GET", "/api/v1/students")] = listing("/api/v1/students", "area_code", expect="sMain")


@op("POST", "/api/v1/students")
async def _create_student(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    body = c.world.student_body("primary", name=name3())
    body["enrollment"]["school_code"] = c.primary  # B's, or (sibling view) the second township's
    s.id_numbers.add(body["id_number"])
    return Call("POST", "/api/v1/students", json=body)


@op("GET", "/api/v1/students/{student_id}")
async def _read_student(s: Setting, role: str, inside: bool) -> list[Call]:
    path = f"/api/v1/students/{rid(county(s, inside), 'sMain')}"
    return [Call("GET", path), Call("GET", path, params={"reveal": "id_number"}, reveal=True)]


@op("PATCH", "/api/v1/students/{student_id}")
async def _patch_student(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/students/{rid(county(s, inside), 'sPatch' if inside else 'sMain')}"
    return Call("PATCH", path, json={"ethnicity": "汉族", "version": await version(s, path)})


@op("POST", "/api/v1/students/{student_id}/enrollment-changes")
async def _enrollment_change(s: Setting, role: str, inside: bool) -> Call:
    allowed = sorted(m.WRITERS)
    key = f"sEnroll{allowed.index(role) if role in allowed else 0}" if inside else "sMain"
    return Call(
        "POST",
        f"/api/v1/students/{rid(county(s, inside), key)}/enrollment-changes",
        json={"kind": "suspend", "effective_date": TODAY.isoformat(), "reason": "病休"},
    )


BUILDERS[("GET", "/api/v1/students/{student_id}/history")] = record(
    "GET", "/api/v1/students/{}/history", "sMain"
)


@op("GET", "/api/v1/progression")
async def _progression(s: Setting, role: str, inside: bool) -> Call:
    params = {"year": TODAY.year, "limit": 500}
    if inside:
        return Call("GET", "/api/v1/progression", params=params, expect=rid(s.a, "sGrad"))
    return Call("GET", "/api/v1/progression", params={**params, "area_code": s.b.code})


@op("GET", "/api/v1/imports")
async def _imports(s: Setting, role: str, inside: bool) -> Call:
    if inside:
        return Call("GET", "/api/v1/imports", params={"limit": 500})
    return Call("GET", "/api/v1/imports", params={"actor": s.b.users["county"].username})


async def _import_done(caller: Api, body: Any, inside: bool) -> None:
    """The job ends with the row stored (in scope) or refused as a row error (out of scope)."""

    async def finished():
        got = await caller.ok("GET", f"/api/v1/imports/{body['id']}")
        return got if got["status"] in ("done", "failed") else None

    job = await eventually(finished, timeout=30)
    expected = (1, 0) if inside else (0, 1)
    assert (job["created"], job["error_count"]) == expected, (
        f"import {'in' if inside else 'out of'} scope: {job}"
    )


@op("POST", "/api/v1/imports")
async def _import(s: Setting, role: str, inside: bool) -> Call:
    school = None if inside else s.b.primary
    return Call(
        "POST",
        "/api/v1/imports",
        data={"kind": "students"},
        files={"file": ("students.csv", students_csv(s.a, s, school=school), "text/csv")},
        after=_import_done,
    )


BUILDERS[("GET", "/api/v1/imports/templates/{kind}")] = unscoped(
    Call("GET", "/api/v1/imports/templates/students")
)
BUILDERS[("GET", "/api/v1/imports/{job_id}")] = record("GET", "/api/v1/imports/{}", "import")

# Transfers -------------------------------------------------------------------------------------


@op("GET", "/api/v1/transfers")
async def _transfers(s: Setting, role: str, inside: bool) -> Call | None:
    if not inside:
        return None
    return Call("GET", "/api/v1/transfers", params={"limit": 500}, expect=rid(s.a, "trRead"))


BUILDERS[("GET", "/api/v1/transfers/{transfer_id}")] = record("GET", "/api/v1/transfers/{}", "trRead")


def _decide(action: str):
    """A pending request of its own for each writer role (C→A to accept or reject, A→C to withdraw);
    B's request (B→C) out of scope."""

    async def build(s: Setting, role: str, inside: bool) -> Call:
        if inside:
            transfer = s.pools.get((f"tr_{action}", role)) or s.pools[(f"tr_{action}", m.COUNTY)]
        else:
            transfer = county(s, inside).rec["trRead"]
        return Call("POST", f"/api/v1/transfers/{transfer['id']}/{action}", json={"note": "访问矩阵测试"})

    return build


for _action in ("accept", "reject", "cancel"):
    BUILDERS[("POST", f"/api/v1/transfers/{{transfer_id}}/{_action}")] = _decide(_action)

# Subsidy ---------------------------------------------------------------------------------------


@op("GET", "/api/v1/subsidy/policies")
async def _policies(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call(
        "GET",
        "/api/v1/subsidy/policies",
        params={"area_code": c.code, "limit": 500},
        expect=c.rec["pRead"]["code"] if inside else None,
    )


@op("POST", "/api/v1/subsidy/policies")
async def _create_policy(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST", "/api/v1/subsidy/policies", json=policy_body(**({} if inside else {"area_code": s.b.code}))
    )


@op("GET", "/api/v1/subsidy/policies/{code}")
async def _read_policy(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", f"/api/v1/subsidy/policies/{county(s, inside).rec['pRead']['code']}")


@op("PATCH", "/api/v1/subsidy/policies/{code}")
async def _patch_policy(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    path = f"/api/v1/subsidy/policies/{c.rec['pPatch' if inside else 'pRead']['code']}"
    return Call("PATCH", path, json={"name": "测试资助（修订）", "version": await version(s, path)})


BUILDERS[("GET", "/api/v1/subsidy/batches")] = listing(
    "/api/v1/subsidy/batches", "school_code", lambda c: c.primary, expect="bPub"
)


@op("POST", "/api/v1/subsidy/batches")
async def _create_batch(s: Setting, role: str, inside: bool) -> Call:
    if inside:
        code = s.pools.get(("batch_policy", role)) or s.pools[("batch_policy", m.ADMIN)]
        return Call(
            "POST",
            "/api/v1/subsidy/batches",
            json={"school_code": s.a.primary, "semester": PAST, "policy_code": code},
        )
    return Call(
        "POST",
        "/api/v1/subsidy/batches",
        json={"school_code": s.b.primary, "semester": PAST, "policy_code": s.b.rec["pRead"]["code"]},
    )


BATCH = "/api/v1/subsidy/batches/{}"
BUILDERS[("GET", "/api/v1/subsidy/batches/{batch_id}")] = record("GET", BATCH, "bPub")
BUILDERS[("GET", "/api/v1/subsidy/batches/{batch_id}/roster")] = record("GET", BATCH + "/roster", "bPub")
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/regenerate")] = pooled(
    "POST", BATCH + "/regenerate", "regenerate", "bDraft", {}
)
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/submit")] = pooled(
    "POST", BATCH + "/submit", "submit", "bDraft", {"publicity_start": TODAY.isoformat()}
)
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/approve")] = pooled(
    "POST", BATCH + "/approve", "approve", "bPub", {}
)
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/reject")] = pooled(
    "POST", BATCH + "/reject", "reject", "bPub", {"reason": "名单有误"}
)
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/pay")] = pooled(
    "POST", BATCH + "/pay", "pay", "bPaid", {"paid_on": TODAY.isoformat(), "reference": "MX-PAY"}
)
BUILDERS[("POST", "/api/v1/subsidy/batches/{batch_id}/cancel")] = pooled(
    "POST", BATCH + "/cancel", "cancel", "bDraft", {"reason": "重新生成"}
)
BUILDERS[("GET", "/api/v1/subsidy/batches/{batch_id}/objections")] = record(
    "GET", BATCH + "/objections", "bPub"
)
BUILDERS[("GET", "/api/v1/subsidy/batches/{batch_id}/publicity")] = record(
    "GET", BATCH + "/publicity", "bPub"
)


@op("POST", "/api/v1/subsidy/batches/{batch_id}/objections")
async def _object(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call(
        "POST",
        f"/api/v1/subsidy/batches/{rid(c, 'bPub')}/objections",
        json={"student_id": rid(c, "sMain"), "reason": "家庭情况已好转"},
    )


@op("POST", "/api/v1/subsidy/batches/{batch_id}/objections/{objection_id}/resolve")
async def _resolve_objection(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    objection = (
        (s.pools.get(("resolve", role)) or s.pools[("resolve", m.COUNTY)]) if inside else rid(c, "objection")
    )
    return Call(
        "POST",
        f"/api/v1/subsidy/batches/{rid(c, 'bPub')}/objections/{objection}/resolve",
        json={"outcome": "dismissed", "note": "核实无误"},
    )


@op("GET", "/api/v1/subsidy/publicity")
async def _publicity(s: Setting, role: str, inside: bool) -> Call | None:
    return (
        Call("GET", "/api/v1/subsidy/publicity", params={"limit": 500}, expect=rid(s.a, "bPub"))
        if inside
        else None
    )


AID = "/api/v1/subsidy/aid-elsewhere"
LOANS = "/api/v1/subsidy/loans"
BUILDERS[("GET", AID)] = listing(AID, "student_id", lambda c: rid(c, "sMain"))
BUILDERS[("GET", AID + "/{aid_id}")] = record("GET", AID + "/{}", "aidMain")
BUILDERS[("GET", LOANS)] = listing(LOANS, "student_id", lambda c: rid(c, "sMain"))
BUILDERS[("GET", LOANS + "/{loan_id}")] = record("GET", LOANS + "/{}", "loanMain")


@op("POST", AID)
async def _record_aid(s: Setting, role: str, inside: bool) -> Call:
    return Call("POST", AID, json=aid_body(rid(county(s, inside), "sMain")))


@op("PATCH", AID + "/{aid_id}")
async def _patch_aid(s: Setting, role: str, inside: bool) -> Call:
    path = f"{AID}/{rid(county(s, inside), 'aidMain')}"
    return Call("PATCH", path, json={"letter": {"sent_on": TODAY.isoformat()}, "version": await version(s, path)})


@op("POST", LOANS)
async def _record_loan(s: Setting, role: str, inside: bool) -> Call:
    return Call("POST", LOANS, json=loan_body(rid(county(s, inside), "sMain")))


@op("PATCH", LOANS + "/{loan_id}")
async def _patch_loan(s: Setting, role: str, inside: bool) -> Call:
    path = f"{LOANS}/{rid(county(s, inside), 'loanMain')}"
    return Call("PATCH", path, json={"repayment_status": "repaying", "version": await version(s, path)})


# A ledger with no rows: who may import; rows naming another area's school are row errors (200).
BUILDERS[("POST", "/api/v1/subsidy/history-imports")] = unscoped(
    Call("POST", "/api/v1/subsidy/history-imports",
         files={"file": ("ledger.csv", b"id_number,semester,policy_code,amount_fen,paid_on,school_code\n")})
)  # fmt: skip


BUILDERS[("GET", "/api/v1/subsidy/disbursements")] = listing(
    "/api/v1/subsidy/disbursements", "student_id", lambda c: rid(c, "sMain")
)


HARDSHIP = "/api/v1/subsidy/hardship"
BUILDERS[("GET", HARDSHIP)] = listing(HARDSHIP, "student_id", lambda c: rid(c, "sMain"), expect="hardshipMain")
BUILDERS[("GET", HARDSHIP + "/{hardship_id}")] = record("GET", HARDSHIP + "/{}", "hardshipMain")
BUILDERS[("POST", HARDSHIP + "/{hardship_id}/submit")] = pooled(
    "POST", HARDSHIP + "/{}/submit", "hs_submit", "hardshipMain", {"publicity_start": TODAY.isoformat()}
)
BUILDERS[("POST", HARDSHIP + "/{hardship_id}/approve")] = pooled(
    "POST", HARDSHIP + "/{}/approve", "hs_approve", "hardshipMain", {}
)
BUILDERS[("POST", HARDSHIP + "/{hardship_id}/reject")] = pooled(
    "POST", HARDSHIP + "/{}/reject", "hs_reject", "hardshipMain", {"reason": "核实不符"}
)
BUILDERS[("POST", HARDSHIP + "/{hardship_id}/revoke")] = pooled(
    "POST", HARDSHIP + "/{}/revoke", "hs_revoke", "hardshipMain", {"reason": "家庭经济状况好转"}
)


@op("POST", HARDSHIP)
async def _propose_hardship(s: Setting, role: str, inside: bool) -> Call:
    year = s.pools.get(("hs_year", role)) or s.pools[("hs_year", m.ADMIN)]
    body = {"student_id": rid(county(s, inside), "sMain"), "school_year": year, "level": "general",
            "reason": "家庭困难"}  # fmt: skip
    return Call("POST", HARDSHIP, json=body)


PAYEES = "/api/v1/subsidy/payees"
BUILDERS[("GET", PAYEES)] = listing(PAYEES, "student_id", lambda c: rid(c, "sMain"), expect="payeeMain")
BUILDERS[("GET", PAYEES + "/{payee_id}")] = record("GET", PAYEES + "/{}", "payeeMain")


@op("POST", PAYEES)
async def _record_payee(s: Setting, role: str, inside: bool) -> Call:
    student = s.pools.get(("payee_new", role), "sMain") if inside else "sMain"
    return Call("POST", PAYEES, json=payee_body(rid(county(s, inside), student)))


@op("PATCH", PAYEES + "/{payee_id}")
async def _correct_payee(s: Setting, role: str, inside: bool) -> Call:
    path = f"{PAYEES}/{rid(county(s, inside), 'payeeMain')}"
    return Call("PATCH", path, json={"bank_name": "陕西信合", "version": await version(s, path)})


def _returned(c: County) -> str:
    return rid(c, "bReturn") if "bReturn" in c.rec else rid(c, "bPaid")


@op("GET", "/api/v1/subsidy/batches/{batch_id}/payment-file")
async def _payment_file(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call("GET", f"{BATCH.format(_returned(c))}/payment-file", params={"format": "csv"}, gateway_only=True)


@op("POST", "/api/v1/subsidy/batches/{batch_id}/returns")
async def _returns(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    body = {"lines": [{"student_id": rid(c, "sMain"), "reason": "账户已销户"}]}
    return Call("POST", f"{BATCH.format(_returned(c))}/returns", json=body)


@op("POST", "/api/v1/subsidy/batches/{batch_id}/reconciliation")
async def _reconcile(s: Setting, role: str, inside: bool) -> Call:
    body = {"lines": [{"account": "6228480402564890018", "amount_fen": 62500}]}
    return Call("POST", f"{BATCH.format(_returned(county(s, inside)))}/reconciliation", json=body)


@op("GET", "/api/v1/subsidy/batches/{batch_id}/reconciliation")
async def _reconciliations(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", f"{BATCH.format(_returned(county(s, inside)))}/reconciliation")


@op("GET", "/api/v1/stats/ledger")
async def _ledger(s: Setting, role: str, inside: bool) -> Call:
    return Call("GET", "/api/v1/stats/ledger", params={"village_code": county(s, inside).v0})


@op("GET", "/api/v1/subsidy/notices")
async def _bulk_notices(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call("GET", "/api/v1/subsidy/notices", params={"village_code": c.v0, "semester": PAST})


@op("GET", "/api/v1/subsidy/notices/{student_id}")
async def _notice(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "GET", f"/api/v1/subsidy/notices/{rid(county(s, inside), 'sMain')}", params={"semester": PAST}
    )


@op("POST", "/api/v1/subsidy/notices/{student_id}/acknowledge")
async def _acknowledge(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST",
        f"/api/v1/subsidy/notices/{rid(county(s, inside), 'sMain')}/acknowledge",
        json={"semester": PAST, "note": "家长已签字"},
    )


BUILDERS[("GET", "/api/v1/subsidy/tasks")] = unscoped(Call("GET", "/api/v1/subsidy/tasks"))

# Dropout ---------------------------------------------------------------------------------------

BUILDERS[("GET", "/api/v1/attendance/absences")] = listing(
    "/api/v1/attendance/absences", "student_id", lambda c: rid(c, "sMain")
)


@op("POST", "/api/v1/attendance/absences")
async def _absence(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST",
        "/api/v1/attendance/absences",
        json={
            "student_id": rid(county(s, inside), "sMain"),
            "date": s.school_day.isoformat(),
            "reason": "sick",
        },
    )


BUILDERS[("GET", "/api/v1/disability/home-teaching-sessions")] = listing(
    "/api/v1/disability/home-teaching-sessions", "student_id", lambda c: rid(c, "sHT")
)


@op("POST", "/api/v1/disability/home-teaching-sessions")
async def _session(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "POST",
        "/api/v1/disability/home-teaching-sessions",
        json={
            "student_id": rid(county(s, inside), "sHT"),
            "date": TODAY.isoformat(),
            "teacher": "李老师",
            "duration_minutes": 90,
            "content": "语文、康复训练",
        },
    )


BUILDERS[("GET", "/api/v1/disability/placements")] = listing(
    "/api/v1/disability/placements", "student_id", lambda c: rid(c, "sHT")
)


@op("POST", "/api/v1/disability/placements")
async def _placement(s: Setting, role: str, inside: bool) -> Call:
    allowed = sorted(m.WRITERS)
    key = f"sPl{allowed.index(role) if role in allowed else 0}" if inside else "sPl0"
    return Call(
        "POST",
        "/api/v1/disability/placements",
        json={"student_id": rid(county(s, inside), key), "placement": "regular_class", "year": TODAY.year},
    )


BUILDERS[("GET", "/api/v1/disability/placements/{placement_id}")] = record(
    "GET", "/api/v1/disability/placements/{}", "plHT"
)


@op("PATCH", "/api/v1/disability/placements/{placement_id}")
async def _patch_placement(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/disability/placements/{rid(county(s, inside), 'plPatch' if inside else 'plHT')}"
    current = await s.admin.ok("GET", path)
    return Call("PATCH", path, json={"placement": current["placement"], "version": current["version"]})


@op("GET", "/api/v1/dropout/calendar/{year}")
async def _calendar(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "GET", f"/api/v1/dropout/calendar/{TODAY.year}", params={} if inside else {"area_code": s.b.code}
    )


@op("PUT", "/api/v1/dropout/calendar/{year}")
async def _put_calendar(s: Setting, role: str, inside: bool) -> Call:
    return Call(
        "PUT",
        "/api/v1/dropout/calendar/2099",
        json={
            "area_code": county(s, inside).code,
            "days": [{"date": "2099-05-04", "kind": "holiday", "name": "测试"}],
        },
    )


BUILDERS[("GET", "/api/v1/dropout/cases")] = listing(
    "/api/v1/dropout/cases", "student_id", lambda c: rid(c, "sMain"), expect="cMain"
)


@op("POST", "/api/v1/dropout/cases")
async def _open_case(s: Setting, role: str, inside: bool) -> Call:
    allowed = sorted(m.WRITERS)
    key = f"sCaseFree{allowed.index(role) if role in allowed else 0}" if inside else "sFree"
    return Call("POST", "/api/v1/dropout/cases", json={"student_id": rid(county(s, inside), key)})


BUILDERS[("GET", "/api/v1/dropout/cases/{case_id}")] = record("GET", "/api/v1/dropout/cases/{}", "cMain")


@op("PATCH", "/api/v1/dropout/cases/{case_id}")
async def _patch_case(s: Setting, role: str, inside: bool) -> Call:
    path = f"/api/v1/dropout/cases/{rid(county(s, inside), 'cPatch' if inside else 'cMain')}"
    return Call("PATCH", path, json={"note": "已电话联系家长", "version": await version(s, path)})


@op("POST", "/api/v1/dropout/cases/{case_id}/actions")
async def _case_action(s: Setting, role: str, inside: bool) -> Call:
    case = rid(county(s, inside), "cAct" if inside else "cMain")
    return Call(
        "POST",
        f"/api/v1/dropout/cases/{case}/actions",
        json={"kind": "contact", "outcome": "reached", "note": "电话联系家长"},
    )


BUILDERS[("POST", "/api/v1/dropout/checks/run")] = unscoped(
    Call("POST", "/api/v1/dropout/checks/run", json={})
)
BUILDERS[("GET", "/api/v1/dropout/risk")] = listing("/api/v1/dropout/risk", "area_code")
BUILDERS[("GET", "/api/v1/dropout/verifications")] = listing(
    "/api/v1/dropout/verifications", "school_code", lambda c: c.primary, expect="vCheck"
)
CHECK_SEMESTERS = {m.ADMIN: "2024-spring", m.COUNTY: "2024-autumn", m.SCHOOL: "2025-spring"}


@op("POST", "/api/v1/dropout/verifications")
async def _start_check(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    semester = CHECK_SEMESTERS.get(role, "2022-spring") if inside else "2022-autumn"
    return Call(
        "POST", "/api/v1/dropout/verifications", json={"school_code": c.primary, "semester": semester}
    )


BUILDERS[("GET", "/api/v1/dropout/verifications/{verification_id}")] = record(
    "GET", "/api/v1/dropout/verifications/{}", "vCheck"
)


@op("POST", "/api/v1/dropout/verifications/{verification_id}/results")
async def _check_results(s: Setting, role: str, inside: bool) -> Call:
    check = county(s, inside).rec["vCheck"]
    return Call(
        "POST",
        f"/api/v1/dropout/verifications/{check['id']}/results",
        json=[{"student_id": check["items"][0]["student_id"], "arrived": True}],
    )


@op("POST", "/api/v1/tasks/{task_id}/complete")
async def _complete_task(s: Setting, role: str, inside: bool) -> Call:
    own = role if role in m.STAFF else m.COUNTY
    task = s.pools[("task" if inside else "task_b", own)]
    return Call("POST", f"/api/v1/tasks/{task}/complete", json={"note": "已完成"})


# Outside rosters and evidence files ------------------------------------------------------------

BUILDERS[("GET", "/api/v1/dropout/rosters")] = listing("/api/v1/dropout/rosters", "area_code", expect="roster")
BUILDERS[("GET", "/api/v1/dropout/rosters/{roster_id}")] = record("GET", "/api/v1/dropout/rosters/{}", "roster")
BUILDERS[("GET", "/api/v1/dropout/rosters/{roster_id}/findings")] = record(
    "GET", "/api/v1/dropout/rosters/{}/findings", "roster", params={"limit": 500}
)


@op("POST", "/api/v1/dropout/rosters")
async def _outside_roster(s: Setting, role: str, inside: bool) -> Call:
    data = {"source": "public_security", "as_of": TODAY.isoformat()}
    if not inside:
        data["area_code"] = s.b.code
    files = {"file": ("roster.csv", outside_roster_csv(s, s.a), "text/csv")}
    return Call("POST", "/api/v1/dropout/rosters", data=data, files=files)


@op("POST", "/api/v1/evidence")
async def _evidence(s: Setting, role: str, inside: bool) -> Call:
    data = {"kind": "photo", "student_id": rid(county(s, inside), "sMain")}
    return Call("POST", "/api/v1/evidence", data=data, files={"file": ("a.jpg", EVIDENCE_JPEG, "image/jpeg")})


BUILDERS[("GET", "/api/v1/evidence/{evidence_id}")] = record("GET", "/api/v1/evidence/{}", "evMain")


@op("GET", "/files/v1/evidence/{evidence_id}")
async def _evidence_link(s: Setting, role: str, inside: bool) -> Call | None:
    if not inside:
        return None
    url = httpx.URL((await s.admin.ok("GET", f"/api/v1/evidence/{rid(s.a, 'evMain')}"))["download_url"])
    return Call("GET", url.path, params=dict(url.params), auth=False)


# Statistics and verification -------------------------------------------------------------------


def figures(path: str):
    async def build(s: Setting, role: str, inside: bool) -> Call:
        return Call("GET", path, params={} if inside else {"area_code": s.b.code})

    return build


for _figure in ("coverage", "disability", "dropout", "enrollment", "rates", "subsidy", "verification"):
    BUILDERS[("GET", f"/api/v1/stats/{_figure}")] = figures(f"/api/v1/stats/{_figure}")
BUILDERS[("GET", "/api/v1/stats/locks")] = unscoped(Call("GET", "/api/v1/stats/locks"))
LOCK_YEARS = {m.ADMIN: 2001, m.COUNTY: 2002}


@op("POST", "/api/v1/stats/locks")
async def _lock(s: Setting, role: str, inside: bool) -> Call:
    if inside:
        return Call("POST", "/api/v1/stats/locks", json={"year": LOCK_YEARS.get(role, 2000)})
    return Call("POST", "/api/v1/stats/locks", json={"year": 2004, "area_code": s.b.code})


BUILDERS[("GET", "/api/v1/stats/locks/{year}/held")] = unscoped(Call("GET", "/api/v1/stats/locks/2003/held"))
BUILDERS[("GET", "/api/v1/stats/rebuild")] = unscoped(Call("GET", "/api/v1/stats/rebuild"))
BUILDERS[("POST", "/api/v1/stats/rebuild")] = unscoped(Call("POST", "/api/v1/stats/rebuild"))
BUILDERS[("POST", "/api/v1/stats/rebuild/rollups")] = unscoped(Call("POST", "/api/v1/stats/rebuild/rollups"))
BUILDERS[("GET", "/api/v1/verifications")] = listing("/api/v1/verifications", "area_code", expect="job")


@op("POST", "/api/v1/verifications")
async def _roster(s: Setting, role: str, inside: bool) -> Call:
    id_number = make_id_number(birth_for("primary", 2))
    s.id_numbers.add(id_number)
    roster_child(s, id_number, s.a.code if inside else s.b.code)
    body = {
        "semester": PAST,
        "rows": [
            {"household_platform_id": f"PX{secrets.token_hex(5)}", "name": name3(), "id_number": id_number}
        ],
    }
    return Call("POST", "/api/v1/verifications", json=body if inside else {**body, "area_code": s.b.code})


@op("GET", "/api/v1/verifications/households/{platform_id}")
async def _household_education(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call(
        "GET",
        f"/api/v1/verifications/households/{c.rec['hMain']['platform_id']}",
        expect=rid(c, "sMain") if inside else None,
    )


BUILDERS[("GET", "/api/v1/verifications/{job_id}")] = record("GET", "/api/v1/verifications/{}", "job")
BUILDERS[("GET", "/api/v1/verifications/{job_id}/findings")] = record(
    "GET", "/api/v1/verifications/{}/findings", "job", params={"limit": 500}
)


@op("POST", "/api/v1/verifications/{job_id}/findings/{finding_id}/resolve")
async def _resolve_finding(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    finding = (
        (s.pools.get(("finding", role)) or s.pools[("finding", m.ADMIN)]) if inside else c.rec["finding"]
    )
    return Call(
        "POST",
        f"/api/v1/verifications/{rid(c, 'job')}/findings/{finding}/resolve",
        json={"note": "已核实：学生在外县就读"},
    )


# Ops -------------------------------------------------------------------------------------------

BUILDERS[("GET", "/api/v1/ops/consumers")] = unscoped(Call("GET", "/api/v1/ops/consumers"))
BUILDERS[("GET", "/api/v1/ops/dead-letters")] = unscoped(
    Call("GET", "/api/v1/ops/dead-letters", params={"limit": 500})
)
LETTER = """
    INSERT INTO subsidy.dead_letter (consumer, event_id, type, subject, payload, error, attempts)
    SELECT i.consumer, o.id, o.type, o.type, o.payload::text, 'access matrix', 1
    FROM registry.outbox o JOIN subsidy.inbox i ON i.event_id = o.id
    WHERE o.type = 'edu.registry.school.created' AND o.payload->'data'->>'area_code' LIKE $1
    LIMIT 1 RETURNING id
"""


async def _letter(s: Setting, action: str) -> str:
    """An open dead letter of subsidy, once per operation: a copy of a school event of county A it
    has applied, so the admin's replay is the no-op that closes it (and a resolve just closes it)."""
    if ("letter", action) not in s.pools:
        url = make_url(s.a.world.stack.env["NOL_DATABASE_URL"]).set(drivername="postgresql")
        conn = await asyncpg.connect(url.render_as_string(hide_password=False))
        try:
            number = await conn.fetchval(LETTER, f"{s.a.code}%")
        finally:
            await conn.close()
        s.pools[("letter", action)] = f"subsidy-{number}"
    return s.pools[("letter", action)]


def _letter_call(action: str, body: Any = None):
    async def build(s: Setting, role: str, inside: bool) -> Call | None:
        if not inside:
            return None
        return Call("POST", f"/api/v1/ops/dead-letters/{await _letter(s, action)}/{action}", json=body)

    return build


BUILDERS[("POST", "/api/v1/ops/dead-letters/{letter_id}/replay")] = _letter_call("replay")
BUILDERS[("POST", "/api/v1/ops/dead-letters/{letter_id}/resolve")] = _letter_call(
    "resolve", {"note": "访问矩阵测试"}
)


# Support (结对帮扶) and the responsibility system (双线控辍) ------------------------------------

PAIRINGS = "/api/v1/support/pairings"
HELPER = {"name": "李建军", "phone": "13800000000"}
BUILDERS[("GET", PAIRINGS)] = listing(PAIRINGS, "student_id", lambda c: rid(c, "sMain"), expect="pPair")


@op("POST", PAIRINGS)
async def _pair(s: Setting, role: str, inside: bool) -> Call:
    staff = sorted(m.STAFF)
    key = f"sPair{staff.index(role) if role in staff else 0}" if inside else "sFree"
    return Call("POST", PAIRINGS, json={"student_id": rid(county(s, inside), key), "helper": HELPER})


BUILDERS[("GET", PAIRINGS + "/{pairing_id}")] = record("GET", PAIRINGS + "/{}", "pPair")


@op("PATCH", PAIRINGS + "/{pairing_id}")
async def _patch_pairing(s: Setting, role: str, inside: bool) -> Call:
    path = f"{PAIRINGS}/{rid(county(s, inside), 'pPair')}"
    return Call("PATCH", path, json={"plan": "每周联系，每月家访", "version": await version(s, path)})


BUILDERS[("GET", PAIRINGS + "/{pairing_id}/records")] = record("GET", PAIRINGS + "/{}/records", "pPair")
BUILDERS[("POST", PAIRINGS + "/{pairing_id}/records")] = record(
    "POST", PAIRINGS + "/{}/records", "pPair", body={"kind": "contact", "note": "电话联系"}
)
BUILDERS[("GET", "/api/v1/support/campaigns")] = listing(
    "/api/v1/support/campaigns", "area_code", expect="campA"
)
CAMPAIGN_MONTHS = {m.ADMIN: "2026-01", m.COUNTY: "2026-02", m.TOWNSHIP: "2026-03"}


@op("POST", "/api/v1/support/campaigns")
async def _campaign(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    body = {"area_code": c.v0 if inside else c.code, "month": CAMPAIGN_MONTHS.get(role, "2026-04")}
    return Call("POST", "/api/v1/support/campaigns", json=body)


BUILDERS[("GET", "/api/v1/support/campaigns/{campaign_id}")] = record(
    "GET", "/api/v1/support/campaigns/{}", "campA"
)
BUILDERS[("GET", "/api/v1/support/rate")] = figures("/api/v1/support/rate")
RESPONSIBLE = "/api/v1/dropout/students/{}/responsible"
BUILDERS[("GET", RESPONSIBLE.format("{student_id}"))] = record("GET", RESPONSIBLE, "sMain")
BUILDERS[("PUT", RESPONSIBLE.format("{student_id}"))] = record(
    "PUT", RESPONSIBLE, "sMain", body={"persons": [{"role": "head_teacher", "name": "王老师"}]}
)
BUILDERS[("POST", "/api/v1/dropout/students/{student_id}/responsibility-letters")] = record(
    "POST",
    "/api/v1/dropout/students/{}/responsibility-letters",
    "sMain",
    body={"role": "principal", "signer_name": "刘校长", "signed_on": TODAY.isoformat()},
)


@op("PUT", "/api/v1/dropout/responsible-defaults")
async def _responsible_default(s: Setting, role: str, inside: bool) -> Call:
    body = {"unit_code": county(s, inside).primary, "role": "principal", "name": "刘校长"}
    return Call("PUT", "/api/v1/dropout/responsible-defaults", json=body)


LEGAL = "/api/v1/dropout/cases/{}/legal-steps"
BUILDERS[("GET", LEGAL.format("{case_id}"))] = record("GET", LEGAL, "cLegal")
BUILDERS[("POST", LEGAL.format("{case_id}"))] = record(
    "POST", LEGAL, "cLegal", body={"kind": "notice", "guardian_name": "张大山"}
)


@op("GET", "/api/v1/dropout/cases/{case_id}/legal-steps/{step_id}/notice")
async def _notice(s: Setting, role: str, inside: bool) -> Call:
    c = county(s, inside)
    return Call("GET", f"{LEGAL.format(rid(c, 'cLegal'))}/{rid(c, 'nLegal')}/notice")
