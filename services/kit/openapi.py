"""OpenAPI that client generators take whole: readable operation ids, one title per schema.

Operation ids are made once, from the route: its function name, qualified by the first part of its
path when the name does not already say it (`list_students`, `subsidy_approve_batch`,
`dropout_list_findings`). Two routes of one app that would still share an id are told apart by the
rest of their path (`qualify_duplicate_ids`). The merged document checks they are unique across
services. Component titles are made unique too (`unique_titles`): generators name classes by title.
"""

import re
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from services.kit import i18n

_VERSION = re.compile(r"^v\d+$")


def _literal_segments(path: str) -> list[str]:
    """The path's fixed parts, without `api`, the version and parameters: `["subsidy", "batches"]`."""
    parts = [p for p in path.strip("/").split("/") if p and not p.startswith("{")]
    while parts and (parts[0] in ("api", "files") or _VERSION.match(parts[0])):
        parts = parts[1:]
    return [re.sub(r"\W+", "_", p.replace("-", "_")).strip("_") for p in parts] or ["root"]


def _says(name: str, word: str) -> bool:
    stem = word[:-1] if word.endswith("s") else word
    return stem in name.split("_") or word in name.split("_") or name.startswith(word)


def operation_id(route: APIRoute) -> str:
    """Return a route's readable operation id: `generate_unique_id_function` of every app."""
    first = _literal_segments(route.path_format)[0]
    name = re.sub(r"\W+", "_", route.name)
    return name if _says(name, first) else f"{first}_{name}"


def qualify_duplicate_ids(doc: dict[str, Any]) -> dict[str, Any]:
    """Tell apart, by their whole path, the operations of one document that share an id (in place).

    (FastAPI makes ids route by route, so two routes of one app with one function name meet only here.)
    """
    operations = [
        (path, op)
        for path, item in doc.get("paths", {}).items()
        for op in item.values()
        if isinstance(op, dict) and op.get("operationId")
    ]
    counts = Counter(op["operationId"] for _, op in operations)
    for path, op in operations:
        if counts[op["operationId"]] > 1:
            name = op["operationId"].removeprefix(_literal_segments(path)[0] + "_")
            op["operationId"] = "_".join([*_literal_segments(path), name])
    return doc


def openapi_of(app: FastAPI, build: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """Build an app's document with FastAPI's duplicate-id warning silenced (qualified right after)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Duplicate Operation ID")
        doc = build()
    return qualify_duplicate_ids(doc)


def unique_titles(doc: dict[str, Any]) -> dict[str, Any]:
    """Give every component schema whose title another one shares its own name as title (in place).

    Pydantic names a model's input and output shapes `X-Input` and `X-Output` with one title `X`,
    and two services may each have a `RowError`: a generator would make one class of both.
    """
    schemas = doc.get("components", {}).get("schemas", {})
    titles = Counter(s.get("title", name) for name, s in schemas.items() if isinstance(s, dict))
    for name, schema in schemas.items():
        if isinstance(schema, dict) and titles[schema.get("title", name)] > 1:
            schema["title"] = re.sub(r"\W+", "", name.title() if "-" in name else name)
    return doc


def duplicate_operation_ids(doc: dict[str, Any]) -> list[str]:
    """Return the operation ids a document uses more than once."""
    ids = Counter(
        op.get("operationId")
        for item in doc.get("paths", {}).values()
        for op in item.values()
        if isinstance(op, dict) and op.get("operationId")
    )
    return sorted(i for i, n in ids.items() if n > 1)


def describe_enums(doc: dict[str, Any]) -> dict[str, Any]:
    """Add `x-enum-labels` (value → Chinese label, kit.i18n) to every enum a document holds (in place)."""

    def visit(node: Any, name: str | None = None) -> None:
        if isinstance(node, dict):
            values = node.get("enum")
            if isinstance(values, list) and values and all(isinstance(x, str) for x in values):
                labels = i18n.enum_labels(values, node.get("title") or name)
                if labels:
                    node["x-enum-labels"] = labels
            for key, value in node.items():
                visit(value, key if isinstance(value, dict) and value.get("enum") else None)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        visit(schema, name)
    visit(doc.get("paths", {}))
    return doc


def hoist_inline_models(doc: dict[str, Any]) -> dict[str, Any]:
    """Move titled object schemas written inline in a request body's union into the components.

    (A body that takes "one or a list" spells its item inline twice; generators want a `$ref`.)
    """
    schemas = doc.setdefault("components", {}).setdefault("schemas", {})

    def hoist(node: Any) -> Any:
        if (
            isinstance(node, dict)
            and node.get("type") == "object"
            and "properties" in node
            and isinstance(node.get("title"), str)
            and schemas.get(node["title"], node) == node
        ):
            schemas[node["title"]] = node
            return {"$ref": "#/components/schemas/" + node["title"]}
        if isinstance(node, dict) and node.get("type") == "array" and isinstance(node.get("items"), dict):
            return {**node, "items": hoist(node["items"])}
        return node

    for item in doc.get("paths", {}).values():
        for op in item.values():
            content = op.get("requestBody", {}).get("content", {}) if isinstance(op, dict) else {}
            for media in content.values():
                schema = media.get("schema", {})
                for key in ("anyOf", "oneOf"):
                    if isinstance(schema.get(key), list):
                        schema[key] = [hoist(s) for s in schema[key]]
    return doc
