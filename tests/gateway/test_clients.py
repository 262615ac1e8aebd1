"""Clients that just work: ETag/304, If-Match/412, gzip, Chinese errors, the refresh retry, the
merged document's unique ids and titles, Idempotency-Key declared, labels, docs without a CDN."""

import asyncio
import re

import pytest

from tests import conftest as root
from tests.helpers import ADMIN_PASSWORD, World

from .conftest import ADMIN_USER, login

ZH = re.compile(r"[\u4e00-\u9fff]")


@pytest.fixture(scope="module")
async def place(api, stack) -> World:
    """One county of this module's own, with 6 students at its primary school."""
    world = await World.create(api, code=f"61{9000 - next(root._counties):04d}", stack=stack)
    await asyncio.gather(*(world.student() for _ in range(6)))
    return world


@pytest.fixture(scope="module")
async def one(place: World) -> dict:
    county = place.users["county"]
    return (await county.ok("GET", "/api/v1/students", 200, params={"limit": 1}))["items"][0]


async def test_etag_and_304(place, one):
    county = place.users["county"]
    first = await county.get(f"/api/v1/students/{one['id']}")
    etag = first.headers["etag"]
    assert first.status_code == 200 and etag.startswith('"')
    again = await county.get(f"/api/v1/students/{one['id']}", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag
    other = await county.get(f"/api/v1/students/{one['id']}", headers={"If-None-Match": '"stale"'})
    assert other.status_code == 200 and other.json() == first.json()


async def test_if_match_412_and_version_still_works(place):
    county = place.users["county"]
    student = await place.student()
    path = f"/api/v1/students/{student['id']}"
    etag = (await county.get(path)).headers["etag"]
    # The ETag of what the caller read: the write goes through (the version is checked for it).
    ok = await county.patch(path, json={"name": "张改名"}, headers={"If-Match": etag})
    assert ok.status_code == 200, ok.text
    assert ok.json()["version"] == student["version"] + 1
    # The same ETag again: the record has changed since, 412 with the current ETag.
    stale = await county.patch(
        path, json={"name": "李改名"}, headers={"If-Match": etag, "Accept-Language": "en"}
    )
    assert stale.status_code == 412, stale.text
    assert stale.headers["content-type"] == "application/problem+json"
    current = (await county.get(path)).headers["etag"]
    assert stale.headers["etag"] == current and "ETag" in stale.json()["detail"]
    assert (await county.get(path)).json()["name"] == "张改名"  # nothing written
    # The existing mechanism: a stale version number is still 409, the current one still works.
    old = await county.patch(path, json={"name": "王", "version": student["version"]})
    assert old.status_code == 409 and old.json()["current_version"] == student["version"] + 1
    fine = await county.patch(path, json={"name": "王"}, headers={"If-Match": str(student["version"] + 1)})
    assert fine.status_code == 200, fine.text


async def test_gzip_above_1kb(place):
    county = place.users["county"]
    school = place.schools["primary"]["code"]
    big = await county.get(
        "/api/v1/students", params={"school_code": school, "limit": 6}, headers={"Accept-Encoding": "gzip"}
    )
    assert big.status_code == 200 and big.headers["content-encoding"] == "gzip"
    assert len(big.json()["items"]) == 6  # httpx decoded it
    assert int(big.headers["content-length"]) < len(big.content)
    small = await county.get("/api/v1/auth/me", headers={"Accept-Encoding": "gzip"})
    assert "content-encoding" not in small.headers  # under 1 KB: not worth it
    plain = await county.get(
        "/api/v1/students",
        params={"school_code": school, "limit": 6},
        headers={"Accept-Encoding": "identity"},
    )
    assert "content-encoding" not in plain.headers and plain.json() == big.json()


async def test_errors_in_chinese_by_default_english_on_request(place):
    county = place.users["county"]
    body = {"name": "x", "id_number": "11010519491231002Y"}
    zh = await county.post("/api/v1/students", json=body, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    assert zh.status_code == 422 and zh.headers["content-language"] == "zh-CN"
    problem = zh.json()
    assert problem["title"] == "输入有误" and ZH.search(problem["detail"])
    by_field = {tuple(e["loc"]): e["msg"] for e in problem["errors"]}
    assert all(ZH.search(msg) for msg in by_field.values()), by_field
    assert "必填" in by_field.values(), by_field
    default = await county.post("/api/v1/students", json=body, headers={"Accept-Language": ""})
    assert default.json()["title"] == "输入有误"  # no preference: Chinese
    en = await county.post("/api/v1/students", json=body, headers={"Accept-Language": "en-US,en;q=0.8"})
    assert en.headers["content-language"] == "en"
    assert not ZH.search(en.json()["title"] + en.json()["detail"])
    # Our own domain message: the ID number's check digit, as a county clerk reads it.
    wrong = place.student_body()
    wrong["id_number"] = wrong["id_number"][:17] + ("0" if wrong["id_number"][17] != "0" else "1")
    resp = await county.post("/api/v1/students", json=wrong)
    assert resp.status_code == 422, resp.text
    assert "身份证号校验位错误" in resp.json()["errors"][0]["msg"], resp.json()


async def test_refresh_retry_within_grace_gets_the_same_pair(client):
    tokens = (await login(client, ADMIN_USER, ADMIN_PASSWORD)).json()
    body = {"refresh_token": tokens["refresh_token"]}
    first = await client.post("/api/v1/auth/refresh", json=body)
    again = await client.post("/api/v1/auth/refresh", json=body)  # the first answer was lost
    assert first.status_code == again.status_code == 200, again.text
    assert again.json()["refresh_token"] == first.json()["refresh_token"]
    assert again.json()["access_token"] == first.json()["access_token"]
    me = await client.get(
        "/api/v1/auth/me", headers={"Authorization": f"Bearer {again.json()['access_token']}"}
    )
    assert me.status_code == 200
    # The new refresh token rotates on as usual; then the old one is reuse: the session ends.
    nxt = await client.post("/api/v1/auth/refresh", json={"refresh_token": first.json()["refresh_token"]})
    assert nxt.status_code == 200
    reused = await client.post("/api/v1/auth/refresh", json=body)
    assert reused.status_code == 401
    # The whole login ended (its access tokens follow through the revocation list, tests/security).
    ended = await client.post("/api/v1/auth/refresh", json={"refresh_token": nxt.json()["refresh_token"]})
    assert ended.status_code == 401


async def test_refresh_successor_stored_sealed(client, owner_engine):
    from sqlalchemy import text

    from api_gateway.tokens import hash_secret

    tokens = (await login(client, ADMIN_USER, ADMIN_PASSWORD)).json()
    new = (await client.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})).json()
    async with owner_engine.connect() as conn:
        sealed = await conn.scalar(
            text("SELECT successor_sealed FROM gateway.refresh_token WHERE token_hash = :h"),
            {"h": hash_secret(tokens["refresh_token"])},
        )
    assert (
        sealed and new["refresh_token"].encode() not in sealed and new["access_token"].encode() not in sealed
    )


async def test_merged_document_for_generators(client):
    doc = (await client.get("/openapi.json?refresh=1")).json()
    titles: dict[str, list[str]] = {}
    for name, schema in doc["components"]["schemas"].items():
        titles.setdefault(schema.get("title", name), []).append(name)
    assert not {t: n for t, n in titles.items() if len(n) > 1}
    operations = [
        (path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if "responses" in op
    ]
    ids = [op["operationId"] for _, _, op in operations]
    assert len(ids) == len(set(ids))
    assert not [i for i in ids if re.search(r"_api_v1_|_(get|post|patch|put|delete)$", i)]
    assert doc["paths"]["/api/v1/students"]["get"]["operationId"] == "list_students"
    assert (
        doc["paths"]["/api/v1/subsidy/batches/{batch_id}/approve"]["post"]["operationId"]
        == "subsidy_approve_batch"
    )
    for path, method, op in operations:
        declared = any(p.get("name") == "Idempotency-Key" for p in op.get("parameters", []))
        assert declared == (method == "post" and not path.startswith("/api/v1/auth/")), (method, path)
    stage = doc["components"]["schemas"]["Stage"]
    assert stage["x-enum-labels"]["primary"] == "小学"


async def test_labels_public_and_cacheable(client):
    resp = await client.get("/api/v1/meta/labels")
    assert resp.status_code == 200 and "public" in resp.headers["cache-control"]
    vocab = resp.json()["vocabularies"]
    assert vocab["Stage"]["primary"] == {"zh": "小学", "en": "Primary"}
    assert vocab["HouseholdStatus"]["tekun"]["zh"] == "特困供养"
    again = await client.get("/api/v1/meta/labels", headers={"If-None-Match": resp.headers["etag"]})
    assert again.status_code == 304


async def test_docs_without_cdn(client):
    page = await client.get("/docs")
    assert (
        page.status_code == 200
        and "cdn" not in page.text
        and "/docs/assets/swagger-ui-bundle.js" in page.text
    )
    asset = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000
    redoc = await client.get("/redoc")
    assert redoc.status_code == 200 and "/docs/assets/redoc.standalone.js" in redoc.text
