"""One OpenAPI document for the whole API: the gateway's own paths plus every service's."""

import copy
import importlib
from typing import Any

import structlog
from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from api_gateway.idempotency.middleware import EXEMPT
from api_gateway.routing import API, PLATFORM_ALLOWED, _prefix_of
from services.kit.responses import add_problem, document_errors, iter_operations
from services.kit.settings import SERVICES, Settings, get_settings

log = structlog.get_logger()
REF = "#/components/schemas/"
PUBLIC_PATHS = ("/api/v1/auth/token", "/api/v1/auth/refresh", "/api/v1/auth/logout",
                "/.well-known/jwks.json")
BEARER = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
          "description": "Access token from `POST /api/v1/auth/token` (EdDSA-signed JWT)"}


def service_openapi(name: str, settings: Settings) -> dict[str, Any] | None:
    """Return a service's OpenAPI document, or None when its app cannot be built yet."""
    try:
        module = importlib.import_module(f"services.{name}.main")
        return module.create_app(settings).openapi()
    except Exception as exc:  # a service still being written must not break the docs
        log.warning("openapi: service left out", service=name, error=repr(exc))
        return None


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {k: (REF + renames[v[len(REF):]]
                    if k == "$ref" and isinstance(v, str) and v[len(REF):] in renames
                    and v.startswith(REF) else _rename_refs(v, renames))
                for k, v in node.items()}
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _merge_service(merged: dict[str, Any], name: str, doc: dict[str, Any]) -> None:
    schemas = merged["components"]["schemas"]
    theirs = doc.get("components", {}).get("schemas", {})
    # Same name, different shape: keep both, the service's under a prefixed name.
    renames = {k: f"{name.capitalize()}{k}" for k, v in theirs.items()
               if k in schemas and schemas[k] != v}
    if renames:
        doc = _rename_refs(doc, renames)
        theirs = {renames.get(k, k): v for k, v in doc["components"]["schemas"].items()}
    for key, value in theirs.items():
        if key in schemas and schemas[key] != value:
            raise ValueError(f"OpenAPI schema {key!r} of {name} conflicts even after renaming")
        schemas[key] = value
    for kind, items in doc.get("components", {}).items():
        if kind != "schemas":
            merged["components"].setdefault(kind, {}).update(items)
    gateway_owned = merged.setdefault("x-gateway-owned", set())
    for path, operations in doc.get("paths", {}).items():
        target = merged["paths"].setdefault(path, {})
        for method, operation in operations.items():
            if (path, method) in gateway_owned:
                continue  # the gateway answers this one itself (e.g. /tasks merges several services)
            if method in target:
                raise ValueError(f"{method.upper()} {path} is defined twice (again by {name})")
            target[method] = operation
    known = {t["name"] for t in merged["tags"]}
    merged["tags"] += [t for t in doc.get("tags", []) if t["name"] not in known]


def gateway_openapi(app: FastAPI) -> dict[str, Any]:
    """Return the gateway's own OpenAPI document (without the services)."""
    doc = get_openapi(title=app.title, version=app.version, description=app.description,
                      routes=app.routes, tags=app.openapi_tags)
    return document_errors(doc, public=PUBLIC_PATHS)


def _document_gateway_errors(merged: dict[str, Any], gateway_owned: set[tuple[str, str]]) -> None:
    """Add what the gateway itself answers in front of every operation (limits, keys, proxying)."""
    for path, method, operation in iter_operations(merged):
        if not path.startswith(API + "/"):
            continue
        add_problem(operation, 429)
        if "requestBody" in operation:
            add_problem(operation, 413)
        if method == "post" and not path.startswith(EXEMPT):
            # The Idempotency-Key header itself is described once, in the document's description:
            # as a parameter, fuzzers would send repeated keys and meet the reuse 422, not the API.
            add_problem(operation, 409, "Conflict, or a request with this `Idempotency-Key` still running")
            add_problem(operation, 422)
        if (path, method) in gateway_owned:
            continue
        add_problem(operation, 502)
        add_problem(operation, 504)
        if method.upper() not in PLATFORM_ALLOWED.get(_prefix_of(path) or "", frozenset()):
            add_problem(operation, 403, "The caller's role may not do this (platform clients never may)")


def merged_openapi(gateway: FastAPI | None = None, *, settings: Settings | None = None,
                   ) -> dict[str, Any]:
    """Return the gateway's paths and every service's paths in one document."""
    if gateway is None:
        from api_gateway.main import create_app  # main imports this module

        gateway = create_app(settings)
    settings = settings or gateway.state.settings or get_settings()
    merged = copy.deepcopy(gateway_openapi(gateway))
    merged["servers"] = [{"url": "/"}]
    merged.setdefault("components", {}).setdefault("schemas", {})
    merged.setdefault("tags", [])
    merged["x-gateway-owned"] = {(p, m) for p, ops in merged.get("paths", {}).items() for m in ops}
    missing = []
    for name in SERVICES:
        doc = service_openapi(name, settings)
        if doc is None:
            missing.append(name)
        else:
            _merge_service(merged, name, copy.deepcopy(doc))
    gateway_owned = merged.pop("x-gateway-owned")
    _document_gateway_errors(merged, gateway_owned)
    if missing:
        merged["info"]["description"] += (
            f"\n\n**Not included (could not be loaded): {', '.join(missing)}.**")
    merged["components"].setdefault("securitySchemes", {})["bearerAuth"] = BEARER
    merged["security"] = [{"bearerAuth": []}]
    for path in PUBLIC_PATHS:
        for operation in merged["paths"].get(path, {}).values():
            operation["security"] = []
    return merged
