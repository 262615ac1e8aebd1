"""The merged OpenAPI document and the docs page."""

import pytest

from api_gateway import openapi_merge


async def test_served_document(client):
    resp = await client.get("/openapi.json")
    assert resp.status_code == 200
    doc = resp.json()
    assert doc["servers"] == [{"url": "/"}]
    assert {"/api/v1/auth/token", "/api/v1/users", "/api/v1/audit", "/.well-known/jwks.json"} <= set(
        doc["paths"]
    )
    assert doc["components"]["securitySchemes"]["bearerAuth"]["scheme"] == "bearer"
    assert doc["security"] == [{"bearerAuth": []}]
    assert doc["paths"]["/api/v1/auth/token"]["post"]["security"] == []
    assert "security" not in doc["paths"]["/api/v1/users"]["post"]
    assert not any(p.startswith("/healthz") for p in doc["paths"])


async def test_docs_page(client):
    resp = await client.get("/docs")
    assert resp.status_code == 200 and "swagger" in resp.text.lower()


async def test_services_included_when_they_build(client, settings):
    """Whatever service apps exist are merged in; the rest are named as left out."""
    doc = (await client.get("/openapi.json")).json()
    for name in ("registry", "subsidy", "dropout", "statistics"):
        service = openapi_merge.service_openapi(name, settings)
        if service is None:
            assert name in doc["info"]["description"]
        else:
            assert set(service["paths"]) <= set(doc["paths"])


def _doc(paths: dict, schemas: dict) -> dict:
    return {
        "openapi": "3.1.0",
        "info": {"title": "t", "version": "1", "description": ""},
        "paths": paths,
        "components": {"schemas": schemas},
        "tags": [],
    }


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def test_conflicting_schema_renamed():
    merged = _doc(
        {"/a": {"get": {"responses": {"200": _ref("Thing")}}}},
        {"Thing": {"type": "object", "title": "gateway's"}},
    )
    service = _doc(
        {"/b": {"get": {"responses": {"200": _ref("Thing")}}}},
        {"Thing": {"type": "object", "title": "registry's"}, "Same": {"type": "string"}},
    )
    merged["components"]["schemas"]["Same"] = {"type": "string"}
    openapi_merge._merge_service(merged, "registry", service)
    schemas = merged["components"]["schemas"]
    assert schemas["Thing"]["title"] == "gateway's"
    assert schemas["RegistryThing"]["title"] == "registry's"
    assert merged["paths"]["/b"]["get"]["responses"]["200"] == _ref("RegistryThing")
    assert "RegistrySame" not in schemas


def test_same_operation_twice_refused():
    merged = _doc({"/a": {"get": {}}}, {})
    with pytest.raises(ValueError, match="GET /a"):
        openapi_merge._merge_service(merged, "registry", _doc({"/a": {"get": {}}}, {}))
