"""Load the demo county through the public REST API (the gateway), as any client would.

Idempotent: when the county exists and the last demo student is registered, nothing is
loaded again; an interrupted load is resumed (what exists gives 409, which is fine). The
logins are returned every time, the admin first, for the banner of `make run`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import csv
import io
import json
import os
import random
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

from deploy.demo.data import COUNTY, Dataset, demo_dataset
from services.contracts import calendar

CONCURRENCY = 16
PROGRESS_EVERY = 500
RETRY_STATUSES = frozenset({429, 502, 503, 504})
MAX_RETRIES = 30  # a rate limit of 600/min needs a few minutes for 2,000 students
MAX_TRANSPORT_RETRIES = 5
CLIENT_STATE = "demo_platform_client.json"
_jitter = random.Random()


class LoadError(RuntimeError):
    """The demo data could not be loaded (what the API answered is in the message)."""


def _problem(resp: httpx.Response) -> str:
    with contextlib.suppress(ValueError):
        body = resp.json()
        if isinstance(body, dict):
            errors = body.get("errors") or ""
            return f"{resp.status_code} {body.get('title', '')}: {body.get('detail', '')} {errors}".strip()
    return f"{resp.status_code} {resp.text[:300]}"


def _delay(resp: httpx.Response | None, attempt: int) -> float:
    """Retry-After when the server gives it, else exponential backoff; with jitter."""
    base = min(10.0, 0.25 * 2**attempt)
    if resp is not None:
        with contextlib.suppress(TypeError, ValueError):
            base = max(0.1, float(resp.headers["Retry-After"]))
    return base + _jitter.uniform(0, base / 4)


class _Api:
    """An authenticated client of the gateway: re-logs in on 401, retries on 429/5xx and transport errors."""

    def __init__(self, http: httpx.AsyncClient, username: str, password: str) -> None:
        self.http = http
        self.username = username
        self.password = password
        self.token: str | None = None
        self._lock = asyncio.Lock()

    async def login(self, stale: str | None = None) -> None:
        async with self._lock:
            if stale is not None and self.token != stale:
                return  # another request has logged in again meanwhile
            resp = await self.http.post(
                "/api/v1/auth/token",
                data={"grant_type": "password", "username": self.username, "password": self.password},
            )
            if resp.status_code != 200:
                raise LoadError(f"login as {self.username} failed: {_problem(resp)}")
            self.token = resp.json()["access_token"]

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        key = str(uuid.uuid4())  # kept across transport retries: the first try may have landed
        relogins = transport = 0
        attempt = 0
        while True:
            token = self.token
            headers = {"Authorization": f"Bearer {token}"}
            if method == "POST":
                headers["Idempotency-Key"] = key
            try:
                resp = await self.http.request(method, path, headers=headers, **kw)
            except httpx.TransportError:
                transport += 1
                if transport > MAX_TRANSPORT_RETRIES:
                    raise
                await asyncio.sleep(_delay(None, transport))
                continue
            if resp.status_code == 401 and relogins < 2:
                relogins += 1
                await self.login(stale=token)
                continue
            if resp.status_code in RETRY_STATUSES and attempt < MAX_RETRIES:
                attempt += 1
                key = str(uuid.uuid4())  # answered without effect: never replay a stored 429/503
                await asyncio.sleep(_delay(resp, attempt))
                continue
            return resp


async def _is_loaded(api: _Api, data: Dataset) -> bool:
    """The county exists and the student posted last (after all the others) is registered."""
    if (await api.call("GET", f"/api/v1/areas/{COUNTY[0]}")).status_code != 200:
        return False
    if not data.students:
        return True
    last = data.students[-1]
    resp = await api.call(
        "GET",
        "/api/v1/students",
        params={"school_code": last["enrollment"]["school_code"], "q": last["name"], "limit": 500},
    )
    if resp.status_code != 200:
        return False
    idn = last["id_number"]
    birth = f"{idn[6:10]}-{idn[10:12]}-{idn[12:14]}"
    return any(
        s.get("name") == last["name"]
        and s.get("birth_date") == birth
        and str(s.get("id_number_masked", "")).startswith(idn[:6])
        and str(s.get("id_number_masked", "")).endswith(idn[-4:])
        for s in resp.json().get("items", [])
    )


async def _areas(api: _Api, areas: list[dict[str, str]]) -> int:
    """Create the areas not yet stored that the admin may write (ancestors above its area are left)."""
    me = await api.call("GET", "/api/v1/auth/me")
    own = me.json().get("area_code", "") if me.status_code == 200 else ""
    missing = []
    for area in areas:
        if not area["code"].startswith(own or ""):
            continue  # e.g. 陕西省 for an admin of 安康市: not ours to create
        resp = await api.call("GET", f"/api/v1/areas/{area['code']}")
        if resp.status_code == 404:
            missing.append(area)
        elif resp.status_code != 200:
            raise LoadError(f"GET area {area['code']}: {_problem(resp)}")
    if not missing:
        return 0
    resp = await api.call("POST", "/api/v1/areas", json=missing)
    if resp.status_code == 201:
        return len(missing)
    if resp.status_code != 409:
        raise LoadError(f"POST areas: {_problem(resp)}")
    created = 0  # someone created one meanwhile: one by one, parents first
    for area in missing:
        resp = await api.call("POST", "/api/v1/areas", json=area)
        if resp.status_code == 201:
            created += 1
        elif resp.status_code != 409:
            raise LoadError(f"POST area {area['code']}: {_problem(resp)}")
    return created


async def _schools(api: _Api, schools: list[dict[str, Any]]) -> int:
    created = 0
    for school in schools:
        resp = await api.call("POST", "/api/v1/schools", json=school)
        if resp.status_code == 201:
            created += 1
        elif resp.status_code != 409:
            raise LoadError(f"POST school {school['code']}: {_problem(resp)}")
    return created


async def _import(api: _Api, kind: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Send rows as one CSV through POST /api/v1/imports and wait until the job is done."""
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    resp = await api.call(
        "POST",
        "/api/v1/imports",
        data={"kind": kind},
        files={"file": (f"{kind}.csv", buf.getvalue().encode(), "text/csv")},
    )
    if resp.status_code != 202:
        raise LoadError(f"import of {kind} refused: {_problem(resp)}")
    job = resp.json()
    while job["status"] in ("queued", "running"):
        await asyncio.sleep(0.5)
        job = (await api.call("GET", f"/api/v1/imports/{job['id']}")).json()
    print(
        f"  {kind}: {job['created']} created, {job['updated']} updated, {len(job['errors'])} row errors",
        flush=True,
    )
    return job


def _student_rows(data: Any) -> list[dict[str, Any]]:
    rows = []
    for body, household in zip(data.students, data.household_of, strict=True):
        e = body["enrollment"]
        disability = body.get("disability") or {}
        rows.append(
            {
                "name": body["name"],
                "id_number": body["id_number"],
                "ethnicity": body["ethnicity"],
                "household_platform_id": household,
                "groups": ";".join(body["groups"]),
                "disability_category": disability.get("category", ""),
                "disability_grade": disability.get("grade", ""),
                "school_code": e["school_code"],
                "stage": e["stage"],
                "grade": e["grade"],
                "class_name": e["class_name"] or "",
                "boarding": "是" if e["boarding"] else "否",
                "status": e["status"],
            }
        )
    return rows


async def _subsidy(api: _Api, data: Any, users: list[dict[str, Any]]) -> int:
    """National policies; the demo school's batches of last spring paid, this autumn's awaiting approval."""
    from services.subsidy.demo import national_policies

    for body in national_policies():
        resp = await api.call("POST", "/api/v1/subsidy/policies", json=body)
        if resp.status_code not in (201, 409):
            print(f"  warning: policy {body['code']} not created: {_problem(resp)}", flush=True)
    logins = {u["role"]: u for u in users}
    roles: dict[str, _Api] = {}
    for role in ("school", "township", "county"):
        roles[role] = _Api(api.http, logins[role]["username"], logins[role]["password"])
        await roles[role].login()
    school = logins["school"]["school_code"]
    today = calendar.today()
    paid = 0
    for semester, pay in ((f"{today.year}-spring", True), (f"{today.year}-autumn", False)):
        for code in ("CN-LIVING-BOARD-PRIMARY", "CN-LIVING-NONBOARD-PRIMARY"):
            resp = await roles["county"].call(
                "POST",
                "/api/v1/subsidy/batches",
                json={"school_code": school, "semester": semester, "policy_code": code},
            )
            if resp.status_code != 201 or not resp.json()["lines"]:
                continue
            batch = resp.json()["id"]
            steps = [("school", "submit", {"publicity_start": (today - timedelta(days=30)).isoformat()})]
            if pay:
                steps += [
                    ("township", "approve", {}),
                    ("county", "approve", {}),
                    (
                        "county",
                        "pay",
                        {"paid_on": today.isoformat(), "reference": f"XY{today.year}-{code}"},
                    ),
                ]
            for role, action, body in steps:
                r = await roles[role].call("POST", f"/api/v1/subsidy/batches/{batch}/{action}", json=body)
                if r.status_code != 200:
                    print(f"  warning: {action} of {code} {semester}: {_problem(r)}", flush=True)
                    break
            else:
                paid += pay
    return paid


async def _users(api: _Api, users: list[dict[str, Any]]) -> list[tuple[str, str, str]]:
    logins = []
    for user in users:
        resp = await api.call("POST", "/api/v1/users", json=user)
        if resp.status_code in (200, 201, 409):
            logins.append((user["role"], user["username"], user["password"]))
        else:
            print(f"  warning: user {user['username']} not created: {_problem(resp)}", flush=True)
    return logins


async def _platform(api: _Api, body: dict[str, str], state_dir: Path) -> tuple[str, str] | None:
    """The platform client: reuse the one saved by an earlier load while its secret still works."""
    state = state_dir / CLIENT_STATE
    saved = _read_state(state)
    if saved:
        resp = await api.http.post(
            "/api/v1/auth/token",
            data={
                "grant_type": "client_credentials",
                "client_id": saved["client_id"],
                "client_secret": saved["client_secret"],
            },
        )
        if resp.status_code == 200:
            return saved["client_id"], saved["client_secret"]
    resp = await api.call("POST", "/api/v1/clients", json=body)
    if resp.status_code not in (200, 201):
        print(f"  warning: platform client not created: {_problem(resp)}", flush=True)
        return None
    made = resp.json()
    creds = {"client_id": made["client_id"], "client_secret": made["client_secret"]}
    _save_state(state, creds)
    return creds["client_id"], creds["client_secret"]


def _read_state(state: Path) -> dict[str, str] | None:
    try:
        saved = json.loads(state.read_text())
    except (OSError, ValueError):
        return None
    keys = ("client_id", "client_secret")
    ok = isinstance(saved, dict) and all(isinstance(saved.get(k), str) for k in keys)
    return saved if ok else None


def _save_state(state: Path, creds: dict[str, str]) -> None:
    """Keep the client's secret for the next start (owner-only file; demo credentials)."""
    try:
        state.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(state, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(creds, f)
    except OSError as exc:
        print(f"  warning: could not save the platform client to {state}: {exc}", flush=True)


async def _load(
    gateway_url: str, admin: tuple[str, str], n: int, seed: int, state_dir: Path
) -> list[tuple[str, str, str]]:
    started = time.monotonic()
    data = demo_dataset(seed=seed, n=n)
    limits = httpx.Limits(max_connections=CONCURRENCY + 4, max_keepalive_connections=CONCURRENCY + 4)
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30, limits=limits) as http:
        api = _Api(http, *admin)
        await api.login()
        areas = schools = created = existing = 0
        errors: list[str] = []
        if await _is_loaded(api, data):
            print(f"demo data already loaded ({COUNTY[1]} {COUNTY[0]}); not loading again", flush=True)
        else:
            print(f"loading demo data: {COUNTY[1]}, {len(data.schools)} schools, {n} students", flush=True)
            areas = await _areas(api, data.areas)
            schools = await _schools(api, data.schools)
            await _import(api, "households", data.households)
            job = await _import(api, "students", _student_rows(data))
            created, existing = job["created"], job["updated"]
            errors = [f"row {e['row']} {e['field']}: {e['msg']}" for e in job["errors"]]
        logins = [("admin", *admin), *await _users(api, data.users)]
        if created:
            print(f"  subsidy: {await _subsidy(api, data, data.users)} batches paid", flush=True)
        platform = await _platform(api, data.client, state_dir)
        if platform:
            logins.append(("platform", *platform))
    for line in errors[:5]:
        print(f"  error: {line}", flush=True)
    print(
        f"demo data: {areas} areas, {schools} schools, {created} students created"
        f" ({existing} already there, {len(errors)} failed) in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return logins


def load_demo(
    gateway_url: str,
    *,
    admin: tuple[str, str],
    n: int = 2000,
    seed: int = 2026,
    state_dir: Path | None = None,
) -> list[tuple[str, str, str]]:
    """Load the demo county through the gateway; return (role, username, password) logins, admin first.

    The platform login is (\"platform\", client_id, client_secret); its credentials are kept in
    `state_dir` (default $NOL_DATA_DIR or .data) since the API shows a secret only once.
    """
    state_dir = state_dir or Path(os.environ.get("NOL_DATA_DIR", ".data"))
    coro = _load(gateway_url.rstrip("/"), admin, n, seed, state_dir)
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (e.g. an async test): run on a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coro).result()
