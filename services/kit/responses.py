"""Error responses in OpenAPI: every 4xx/5xx is documented as problem+json, as the handlers send it.

Routes name the errors of their own (`responses=problems(403, 404, 409)`); `document_errors`
rewrites FastAPI's default 422 into a problem, fills in the problem body of every error response
declared without one, and adds the errors any operation can meet (401 without a valid token, 503
while the database is unreachable). The usual ones are shared under `components/responses`.
"""

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from services.kit.errors import PROBLEM

REF = "#/components/schemas/"
PROBLEM_REF = {"$ref": REF + "Problem"}

RESPONSES_REF = "#/components/responses/"
# status -> (name under components/responses, description)
STANDARD = {
    401: ("Unauthorized", "No token, or an invalid, expired or revoked one"),
    403: ("Forbidden", "The caller's role may not do this"),
    404: ("NotFound", "No such record, or one outside the caller's scope"),
    409: ("Conflict", "Conflict with the stored state, or a stale `version`"),
    412: ("PreconditionFailed", "The record changed since the ETag sent in `If-Match`; reload it and retry"),
    413: ("TooLarge", "The request body is over the limit"),
    422: ("Invalid", "Invalid input; `errors` names the fields"),
    429: ("RateLimited", "Too many requests; retry after `Retry-After` seconds"),
    502: ("BadGateway", "The owning service failed to answer"),
    503: (
        "Unavailable",
        "Temporarily unavailable (the database, the event stream or a service); retry shortly",
    ),
    504: ("GatewayTimeout", "The owning service did not answer in time"),
}

_RETRY_AFTER = {"description": "Seconds to wait before retrying", "schema": {"type": "integer"}}
HEADERS: dict[int, dict[str, Any]] = {
    401: {
        "WWW-Authenticate": {
            "description": "The scheme to authenticate with (`Bearer`)",
            "required": True,
            "schema": {"type": "string"},
        }
    },
    429: {"Retry-After": {**_RETRY_AFTER, "required": True}},
    503: {"Retry-After": {**_RETRY_AFTER, "required": True}},
}


class FieldError(BaseModel):
    """One invalid input: where (`loc`, e.g. `["items", 0, "semester"]`), what, and a code."""

    loc: list[str | int]
    msg: str
    code: str | None = None


class Problem(BaseModel):
    """An RFC 9457 problem; some add members of their own (e.g. `current_version` on a stale one)."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(description="A URI naming the kind of problem")
    title: str
    status: int
    detail: str
    errors: list[FieldError] = Field(default_factory=list, description="The invalid fields, if any")


def problem_response(status: int, description: str | None = None) -> dict[str, Any]:
    """Return the OpenAPI response of one error status."""
    usual = STANDARD.get(status, ("", HTTPStatus(status).phrase))[1]
    response: dict[str, Any] = {
        "description": description or usual,
        "content": {PROBLEM: {"schema": PROBLEM_REF}},
    }
    if status in HEADERS:
        response["headers"] = HEADERS[status]
    return response


def problems(*statuses: int, **described: str) -> dict[int | str, dict[str, Any]]:
    """Return `responses=` for a route's own errors: `problems(403, 404)`, `problems(_409="why")`."""
    out: dict[int | str, dict[str, Any]] = {s: problem_response(s) for s in statuses}
    for key, description in described.items():
        status = int(key.lstrip("_"))
        out[status] = problem_response(status, description)
    return out


def _schemas() -> dict[str, Any]:
    schema = Problem.model_json_schema(ref_template=REF + "{model}")
    defs = schema.pop("$defs", {})
    return {"Problem": schema, **defs}


def _uses(node: Any, ref: str) -> bool:
    if isinstance(node, dict):
        return node.get("$ref") == ref or any(_uses(v, ref) for v in node.values())
    if isinstance(node, list):
        return any(_uses(v, ref) for v in node)
    return False


def iter_operations(doc: dict[str, Any]):
    """Yield (path, method, operation) of every operation in a document."""
    for path, item in doc.get("paths", {}).items():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete", "head", "options"):
                yield path, method, operation


def _shared(status: int, response: dict[str, Any]) -> dict[str, Any]:
    """Return a reference to the shared response when `response` is the usual one of its status."""
    if status in STANDARD and response == problem_response(status):
        return {"$ref": RESPONSES_REF + STANDARD[status][0]}
    return response


def add_problem(operation: dict[str, Any], status: int, description: str | None = None) -> None:
    """Document an error on an operation unless it already says more about it."""
    responses = operation.setdefault("responses", {})
    responses.setdefault(str(status), _shared(status, problem_response(status, description)))


def document_errors(doc: dict[str, Any], *, public: tuple[str, ...] = ()) -> dict[str, Any]:
    """Rewrite a FastAPI document's error responses as problem+json (in place) and return it."""
    for path, method, operation in iter_operations(doc):
        responses = operation.setdefault("responses", {})
        for key, response in list(responses.items()):
            if not key.isdigit() or int(key) < 400:
                continue
            status = int(key)
            content = response.get("content", {})
            if not content or _uses(content, REF + "HTTPValidationError"):
                described = response.get("description")
                default = status == 422 and described in (None, "Validation Error")
                response = {**response, **problem_response(status, None if default else described)}
            responses[key] = _shared(status, response)
        if not path.startswith("/api/"):
            continue
        if path not in public:
            add_problem(operation, 401)
        add_problem(operation, 503)
        if method in ("patch", "put") or (method == "post" and "{" in path):
            add_problem(operation, 412)  # If-Match with an ETag that no longer matches (kit.conditional)
    components = doc.setdefault("components", {})
    components.setdefault("responses", {}).update(
        {name: problem_response(status) for status, (name, _) in STANDARD.items()}
    )
    schemas = components.setdefault("schemas", {})
    schemas.update(_schemas())
    for name in ("HTTPValidationError", "ValidationError"):  # FastAPI's 422, replaced above
        rest = {k: v for k, v in schemas.items() if k != name}
        if name in schemas and not _uses([doc.get("paths"), rest], REF + name):
            del schemas[name]
    return doc
