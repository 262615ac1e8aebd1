"""Test helpers: an API client with a token, and a fresh county populated through the API."""

import itertools
import random
import secrets
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import httpx
from stdnum.cn import ric

from services.contracts.calendar import today as local_today

ADMIN_PASSWORD = "Admin-test-2026"
USER_PASSWORD = "Passw0rd-test"
_seq = itertools.count(1)
_school_seq = itertools.count(secrets.randbelow(10**5) * 5)
_rng = random.Random(11643)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
GIVEN = "小明华伟芳娜敏静丽强磊军洋勇艳杰娟涛超秀霞平刚桂英"


def make_id_number(birth: date, *, male: bool | None = None, place: str | None = None) -> str:
    """Return a valid synthetic ID number, unique within the test run when no place is given.

    The birthplace code is only checked for its province (Shaanxi, 61), so the counter runs
    through the other four digits too: a whole suite's tens of thousands of children never collide.
    """
    n = next(_seq)
    seq = n % 1000 if male is None else (n % 500) * 2 + (1 if male else 0)
    place = place or f"61{(n // 500) % 10000:04d}"
    body = f"{place}{birth:%Y%m%d}{seq:03d}"
    return body + ric.calc_check_digit(body + "0")


def birth_for(stage: str, grade: int, today: date | None = None) -> date:
    today = today or local_today()
    year_start = today.year if today.month >= 9 else today.year - 1
    entry = {"preschool": 3, "primary": 6, "junior": 12, "senior": 15, "vocational": 15}[stage]
    age = entry + grade - 1
    return date(year_start - age, _rng.randint(1, 8), _rng.randint(1, 28))


def random_name() -> str:
    return _rng.choice(SURNAMES) + "".join(_rng.choice(GIVEN) for _ in range(_rng.randint(1, 2)))


@dataclass
class Api:
    """A logged-in client of the gateway."""

    client: httpx.AsyncClient
    token: str
    username: str = ""
    refresh_token: str | None = None

    @classmethod
    async def login(cls, client: httpx.AsyncClient, username: str, password: str) -> "Api":
        resp = await client.post(
            "/api/v1/auth/token", data={"grant_type": "password", "username": username, "password": password}
        )
        assert resp.status_code == 200, resp.text
        body = resp.json()
        return cls(client, body["access_token"], username, body.get("refresh_token"))

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.client.request(method, path, headers=headers, **kw)

    async def get(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("GET", path, **kw)

    async def post(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("POST", path, **kw)

    async def patch(self, path: str, **kw: Any) -> httpx.Response:
        return await self.request("PATCH", path, **kw)

    async def ok(self, method: str, path: str, status: int = 200, **kw: Any) -> Any:
        """Call and assert the status; return the JSON body."""
        resp = await self.request(method, path, **kw)
        assert resp.status_code == status, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None


@dataclass
class World:
    """One county of its own: townships, villages, schools and a user of each role."""

    admin: Api
    code: str
    stack: Any
    townships: list[str] = field(default_factory=list)
    villages: list[str] = field(default_factory=list)
    schools: dict[str, dict] = field(default_factory=dict)
    users: dict[str, Api] = field(default_factory=dict)

    @classmethod
    async def create(cls, admin: Api, *, code: str, stack: Any) -> "World":
        w = cls(admin, code, stack)
        w.townships = [f"{code}100", f"{code}101"]
        w.villages = [f"{code}100201", f"{code}100202", f"{code}101201"]
        areas = (
            [{"code": code, "name": f"测试县{code}"}]
            + [{"code": c, "name": f"测试镇{c[-3:]}"} for c in w.townships]
            + [{"code": c, "name": f"测试村{c[-3:]}"} for c in w.villages]
        )
        await admin.ok("POST", "/api/v1/areas", 201, json=areas)
        w.schools["primary"] = await w.school("21", w.townships[0], ["primary"], "中心小学")
        w.schools["junior"] = await w.school("31", w.townships[1], ["primary", "junior"], "九年制学校")
        w.schools["other_primary"] = await w.school("21", w.townships[1], ["primary"], "第二小学")
        w.users["county"] = await w.user("county", code)
        w.users["township"] = await w.user("township", w.townships[0])
        w.users["school"] = await w.user("school", w.townships[0], w.schools["primary"]["code"])
        w.users["village"] = await w.user("village", w.villages[0])
        return w

    async def school(self, kind: str, area: str, stages: list[str], name: str) -> dict:
        code = f"{kind}61{next(_school_seq) % 10**6:06d}"  # one counter: no two schools of a run collide
        return await self.admin.ok(
            "POST",
            "/api/v1/schools",
            201,
            json={"code": code, "name": f"{name}{code[-4:]}", "area_code": area, "stages": stages},
        )

    async def user(self, role: str, area: str, school_code: str | None = None) -> Api:
        username = f"{role}_{area}_{secrets.token_hex(3)}"
        body = {"username": username, "password": USER_PASSWORD, "role": role, "area_code": area}
        if school_code:
            body["school_code"] = school_code
        await self.admin.ok("POST", "/api/v1/users", 201, json=body)
        return await Api.login(self.admin.client, username, USER_PASSWORD)

    def student_body(
        self, school: str = "primary", *, stage: str | None = None, grade: int = 3, **overrides: Any
    ) -> dict:
        sch = self.schools[school]
        stage = stage or sch["stages"][-1]
        body = {
            "name": random_name(),
            "id_number": make_id_number(birth_for(stage, grade)),
            "ethnicity": "汉族",
            "enrollment": {
                "school_code": sch["code"],
                "stage": stage,
                "grade": grade,
                "class_name": f"{grade}年级(1)班",
                "boarding": False,
                "status": "enrolled",
            },
        }
        body.update(overrides)
        return body

    async def student(self, school: str = "primary", *, as_: Api | None = None, **kw: Any) -> dict:
        """Register a student through the API and return it."""
        return await (as_ or self.admin).ok(
            "POST", "/api/v1/students", 201, json=self.student_body(school, **kw)
        )


async def eventually(check, *, timeout: float = 10.0, interval: float = 0.1):
    """Retry an async check until it returns a truthy value or time runs out; return the value."""
    import asyncio
    import time

    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
