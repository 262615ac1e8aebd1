"""One error hierarchy, rendered once as RFC 9457 problem+json."""

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DataError, DBAPIError
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit import i18n

PROBLEM = "application/problem+json"
log = structlog.get_logger()


class AppError(Exception):
    """A failure the client should hear about, with its HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ):
        super().__init__(detail or HTTPStatus(self.status).phrase)
        self.detail = detail or HTTPStatus(self.status).phrase
        self.errors = list(errors or [])
        self.headers = headers or {}
        self.extra = extra or {}


class Unauthorized(AppError):
    status, code = 401, "unauthorized"

    def __init__(self, detail: str = "Missing or invalid token", **kw: Any):
        kw.setdefault("headers", {"WWW-Authenticate": "Bearer"})
        super().__init__(detail, **kw)


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class StaleVersion(Conflict):
    code = "stale_version"

    def __init__(self, current: int):
        super().__init__(
            f"The record has changed (now version {current}); reload and try again",
            extra={"current_version": current},
        )


class PayloadTooLarge(AppError):
    status, code = 413, "payload_too_large"


class Invalid(AppError):
    """Invalid input, naming the field."""

    status, code = 422, "invalid"

    def __init__(self, loc: Sequence[str | int] | str, msg: str, code: str = "invalid", **kw: Any):
        loc = [loc] if isinstance(loc, str) else list(loc)
        super().__init__(msg, errors=[{"loc": loc, "msg": msg, "code": code}], **kw)


class RateLimited(AppError):
    status, code = 429, "rate_limited"


class Unavailable(AppError):
    status, code = 503, "unavailable"

    def __init__(self, detail: str | None = None, **kw: Any):
        kw.setdefault("headers", {"Retry-After": "1"})
        super().__init__(detail, **kw)


def problem(
    status: int,
    detail: str,
    *,
    code: str | None = None,
    errors: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    """Build a problem+json response, in the request's language (kit.i18n: Chinese by default)."""
    title = HTTPStatus(status).phrase
    language = i18n.current()
    body: dict[str, Any] = {
        "type": f"https://notoneless.example/problems/{code or title.lower().replace(' ', '_')}",
        "title": i18n.title(status, title, language),
        "status": status,
        "detail": i18n.translate(detail, language),
    }
    if errors:
        body["errors"] = [
            {**e, "msg": i18n.translate(e["msg"], language)} if isinstance(e.get("msg"), str) else e
            for e in errors
        ]
    body.update(extra or {})
    headers = {**(headers or {}), "Content-Language": i18n.CONTENT_LANGUAGE[language]}
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM)


def _clean_loc(loc: Sequence[Any]) -> list[Any]:
    return [part for part in loc if part not in ("body", "query", "path", "header")] or list(loc)


def validation_errors(exc: RequestValidationError) -> list[dict[str, Any]]:
    """Turn pydantic's errors into our `errors` entries (no input echo)."""
    out = []
    for err in exc.errors():
        msg = err.get("msg", "invalid")
        ctx = err.get("ctx") or {}
        if "error" in ctx and isinstance(ctx["error"], Exception):
            msg = str(ctx["error"])
        msg = i18n.validation_message(err, msg)  # by its type, in the request's language
        out.append({"loc": _clean_loc(err.get("loc", ())), "msg": msg, "code": err.get("type")})
    return out


def install_error_handlers(app: FastAPI) -> None:
    """Render every error as problem+json, never a stack trace."""

    @app.exception_handler(AppError)
    async def _app_error(_: Request, exc: AppError) -> JSONResponse:
        return problem(
            exc.status,
            exc.detail,
            code=exc.code,
            errors=exc.errors or None,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = validation_errors(exc)
        first = errors[0] if errors else {"loc": [], "msg": "invalid"}
        detail = f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
        return problem(422, detail, code="invalid", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400:
            # The framework's only 400: a body it cannot parse (bytes that are not UTF-8, a broken
            # multipart form). Invalid input like any other, so 422 naming the body.
            error = {"loc": ["body"], "msg": str(exc.detail), "code": "body_unreadable"}
            return problem(422, f"body: {exc.detail}", code="invalid", errors=[error])
        return problem(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(DataError)
    async def _database_value(request: Request, exc: DataError) -> JSONResponse:
        return _out_of_range(request, exc)

    @app.exception_handler(DBAPIError)
    async def _database(request: Request, exc: DBAPIError) -> JSONResponse:
        if _driver_refused_value(exc):
            return _out_of_range(request, exc)
        if _serialization_failure(exc):
            # A one-snapshot decision (REPEATABLE READ) met a concurrent change: nothing was written.
            return problem(
                409,
                "The records changed while this was being decided; nothing was saved. Try again.",
                code="concurrent_change",
                headers={"Retry-After": "1"},
            )
        return _unexpected_error(request, exc)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return _unexpected_error(request, exc)


def _out_of_range(request: Request, exc: DBAPIError) -> JSONResponse:
    # A value the database cannot hold (an integer beyond 32 or 64 bits, a date out of range) that
    # slipped past validation is the client's input, not our failure: 422, and logged to be
    # tightened where it came in.
    log.warning("database refused a value", path=request.url.path, error=str(exc.orig)[:200])
    return problem(
        422,
        "A value is out of range",
        code="invalid",
        errors=[{"loc": ["request"], "msg": "value out of range", "code": "out_of_range"}],
    )


def _driver_refused_value(exc: DBAPIError) -> bool:
    """Whether the driver refused to send a query argument (asyncpg's own check, e.g. beyond int64)."""
    import asyncpg

    refused = asyncpg.exceptions.DataError
    return isinstance(exc.orig, refused) or isinstance(getattr(exc.orig, "__cause__", None), refused)


def _serialization_failure(exc: DBAPIError) -> bool:
    import asyncpg

    failure = (asyncpg.exceptions.SerializationError, asyncpg.exceptions.DeadlockDetectedError)
    return isinstance(exc.orig, failure) or isinstance(getattr(exc.orig, "__cause__", None), failure)


def database_unavailable(exc: BaseException) -> bool:
    """Whether an error means the database cannot be reached right now (a restart, a failover)."""
    import asyncpg

    down = (
        asyncpg.PostgresConnectionError,
        asyncpg.CannotConnectNowError,
        asyncpg.AdminShutdownError,
        asyncpg.CrashShutdownError,
    )
    seen: BaseException | None = exc
    for _ in range(8):  # follow the chain of causes a little way
        if seen is None:
            return False
        if isinstance(seen, DBAPIError) and seen.connection_invalidated:
            return True
        if isinstance(seen, down) or (isinstance(seen, OSError) and _from_driver(seen)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def _from_driver(exc: BaseException) -> bool:
    """Whether an OS error (a refused or missing socket) was raised while the driver connected."""
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_globals.get("__name__", "").startswith(("asyncpg.", "sqlalchemy.")):
            return True
        tb = tb.tb_next
    return False


def unavailable_response() -> JSONResponse:
    """The 503 a client gets while the database cannot be reached: retry after a second."""
    return problem(
        503,
        "The database is unavailable; try again shortly",
        code="unavailable",
        headers={"Retry-After": "1"},
    )


def _unexpected_error(request: Request, exc: BaseException) -> JSONResponse:
    if database_unavailable(exc):
        log.warning("database unavailable", path=request.url.path, error=repr(exc)[:200])
        return unavailable_response()
    log.exception("unhandled error", path=request.url.path)
    return problem(500, "Internal error; it has been logged", code="internal")
