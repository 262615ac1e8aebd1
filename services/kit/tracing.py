"""Traces (OpenTelemetry): one W3C trace from the gateway through the services and across events.

Every process keeps an SDK tracer, so each request and each event a consumer applies has a trace id
(in the logs, in `traceresponse`, in the event envelope's `traceparent`) even when nothing is
exported. Spans leave the process only when an OTLP endpoint is configured:
`NOL_OTEL_EXPORTER_OTLP_ENDPOINT` (e.g. `http://otel-collector:4318`) or the standard
`OTEL_EXPORTER_OTLP_ENDPOINT` / `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT`; `OTEL_SDK_DISABLED=true` turns
the SDK off altogether.
"""

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

import structlog
from opentelemetry import context, trace
from opentelemetry.trace import SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

log = structlog.get_logger()
_propagator = TraceContextTextMapPropagator()
_tracer = trace.get_tracer("notoneless")
_configured = False


# FastAPI's own OpenTelemetry instrumentation (on by itself once a tracer provider is set) is turned
# off: it records the raw path and query (which may hold an ID number) and five spans per request;
# kit.metrics.TelemetryMiddleware makes the one request span, named by the route template.
FASTAPI_TELEMETRY_OFF = {"tracing": False, "metrics": False, "logs": False, "operation_spans": False}


def exporter_endpoint() -> str | None:
    """Return the OTLP endpoint spans go to, if one is configured."""
    for name in (
        "NOL_OTEL_EXPORTER_OTLP_ENDPOINT",
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ):
        if os.environ.get(name):
            return os.environ[name]
    return None


def configure_tracing(service: str) -> None:
    """Install the process's tracer provider once (exporter only when an endpoint is configured)."""
    global _configured
    if _configured or os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return
    _configured = True
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider

    provider = TracerProvider(resource=Resource.create({"service.name": f"notoneless-{service}"}))
    endpoint = exporter_endpoint()
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        ours = os.environ.get("NOL_OTEL_EXPORTER_OTLP_ENDPOINT")
        if ours:  # a base URL like the standard variable's; the standard ones the exporter reads itself
            endpoint = ours.rstrip("/") + ("" if ours.rstrip("/").endswith("/v1/traces") else "/v1/traces")
        exporter = OTLPSpanExporter(endpoint=endpoint) if ours else OTLPSpanExporter()
        provider.add_span_processor(BatchSpanProcessor(exporter))
        log.info("traces exported", endpoint=endpoint)
    trace.set_tracer_provider(provider)


def _parent(carrier: Mapping[str, str] | None) -> context.Context | None:
    if not carrier:
        return None
    return _propagator.extract(carrier)


@contextlib.contextmanager
def span(
    name: str,
    *,
    carrier: Mapping[str, str] | None = None,
    kind: SpanKind = SpanKind.INTERNAL,
    attributes: Mapping[str, Any] | None = None,
    links: Iterable[str] = (),
) -> Iterator[trace.Span]:
    """Run a block in a span, a child of `carrier`'s `traceparent` when given, else of the current one.

    `links`: `traceparent`s of other traces the block also serves (e.g. several events applied at once).
    """
    linked = []
    for parent in links:
        ctx = trace.get_current_span(_propagator.extract({"traceparent": parent})).get_span_context()
        if ctx.is_valid:
            linked.append(trace.Link(ctx))
    with _tracer.start_as_current_span(
        name, context=_parent(carrier), kind=kind, attributes=dict(attributes or {}), links=linked
    ) as current:
        yield current


def ids(current: trace.Span | None = None) -> tuple[str, str] | None:
    """Return the (trace id, span id) in hex of a span (default: the current one), None outside."""
    ctx = (current or trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None
    return format(ctx.trace_id, "032x"), format(ctx.span_id, "016x")


def traceparent(current: trace.Span | None = None) -> str | None:
    """Return the W3C `traceparent` of a span (default: the current one), None outside any trace."""
    ctx = (current or trace.get_current_span()).get_span_context()
    if not ctx.is_valid:
        return None
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def inject(headers: Any) -> None:
    """Set `traceparent` (and `tracestate`) of the current span on outgoing headers."""
    for name in ("traceparent", "tracestate"):
        with contextlib.suppress(KeyError):
            del headers[name]
    _propagator.inject(headers)


async def httpx_hook(request: Any) -> None:
    """An httpx request hook: every call a process makes carries its current trace."""
    inject(request.headers)


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A structlog processor: every line logged inside a trace names it (`trace_id`, `span_id`)."""
    found = ids()
    if found and "trace_id" not in event_dict:
        event_dict["trace_id"], event_dict["span_id"] = found
    return event_dict
