"""Structured logging (structlog), one line per event; with `NOL_LOG_JSON=true` every line is JSON.

structlog's own loggers and the standard library's (uvicorn's server lines, SQLAlchemy, nats, Python
warnings) go through one renderer, so a log shipper reads each process's stderr as JSON lines. Each
line carries the request id and, inside a trace, `trace_id`/`span_id` (kit.tracing). The access log
(one line per request) is written by `kit.metrics.TelemetryMiddleware` under the `access` event;
uvicorn's own access log is switched off (it would duplicate it, as text).
"""

import logging
import sys

import structlog

from services.kit.tracing import add_trace_ids

_HANDLER_NAME = "nol"
# uvicorn installs handlers of its own on these (text): they are removed so the root's handler renders.
_UVICORN = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")


def _shared_processors() -> list:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,
    ]


def configure_logging(level: str = "INFO", *, json: bool = False) -> None:
    """Configure structlog and the standard library to log through one renderer (idempotent)."""
    numeric = logging.getLevelName(level.upper())
    shared = _shared_processors()
    renderer = structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[structlog.stdlib.add_logger_name, *shared],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            renderer,
        ],
    )
    root = logging.getLogger()
    for handler in list(root.handlers):
        # ours from an earlier call, or a plain stream handler (basicConfig) that would write text
        if handler.get_name() == _HANDLER_NAME or type(handler) is logging.StreamHandler:
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.set_name(_HANDLER_NAME)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _UVICORN:
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    logging.captureWarnings(True)
    logging.getLogger("uvicorn.access").setLevel(logging.WARNING)  # TelemetryMiddleware logs access
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
