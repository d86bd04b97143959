"""Message metadata in NATS headers (message id, session id, W3C trace context) and the spans of each stage.

A unit keeps its trace id across every hop (typed text -> transcript -> text emotion -> fusion -> turn ->
reply sentences -> audio -> the gateway), each hop gets a new span id, so one user turn can be followed
through the logs of every service (`grep <trace id>`) and, with an OTLP endpoint set, as one trace of
OpenTelemetry spans: the gateway's receive and publish, each service's handler and publish.

Tracing is off unless an endpoint is configured (`configure_tracing`): then `span` only derives the next
span id, as before, and the OpenTelemetry SDK is never imported (no exporter, no thread, no cost per
unit beyond a random id).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from mrrrme.logs import SPAN_ID, TRACE_ID

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.trace import Tracer

log = logging.getLogger("mrrrme.tracing")

MSG_ID = "Nats-Msg-Id"
"""NATS' own header: JetStream de-duplicates on it within the stream's duplicate window."""
SESSION = "Mrrrme-Session"
TRACEPARENT = "traceparent"

_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")

SpanKind = Literal["server", "client", "producer", "consumer", "internal"]
AttributeValue = str | bool | int | float


@dataclass(frozen=True, slots=True)
class TraceContext:
    trace_id: str
    span_id: str
    sampled: bool = True
    """The W3C sampled flag: a trace the first stage chose not to record stays unrecorded at every hop."""

    @classmethod
    def new(cls) -> TraceContext:
        return cls(secrets.token_hex(16), secrets.token_hex(8))

    @classmethod
    def parse(cls, header: str | None) -> TraceContext | None:
        match = _TRACEPARENT.match(header or "")
        if not match or match.group(1) == "0" * 32 or match.group(2) == "0" * 16:
            return None
        return cls(match.group(1), match.group(2), bool(int(match.group(3), 16) & 1))

    def child(self) -> TraceContext:
        return TraceContext(self.trace_id, secrets.token_hex(8), self.sampled)

    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def make_headers(session_id: str, msg_id: str, trace: TraceContext) -> dict[str, str]:
    return {MSG_ID: msg_id, SESSION: session_id, TRACEPARENT: trace.header()}


# --- spans -----------------------------------------------------------------------------------------

_provider: TracerProvider | None = None
"""The SDK provider while tracing is on; None: off (the default)."""
_tracers: dict[str, Tracer] = {}


def tracing_enabled() -> bool:
    return _provider is not None


def install(provider: TracerProvider | None) -> None:
    """Record spans with `provider` from now on (None: off). `configure_tracing` calls it; tests pass a
    provider with an in-memory exporter. The provider is ours, not OpenTelemetry's global one, so that a
    library's own instrumentation is not switched on behind the mesh's settings."""
    global _provider
    _provider = provider
    _tracers.clear()


def configure_tracing(service: str, endpoint: str, instance: str = "") -> bool:
    """Export spans over OTLP/HTTP to `endpoint` (the collector's base URL, as in
    OTEL_EXPORTER_OTLP_ENDPOINT: `/v1/traces` is appended) when it is set; off otherwise. True when on.

    The SDK's own environment is honoured: OTEL_TRACES_SAMPLER / _ARG (e.g. `parentbased_traceidratio`,
    `0.1`), OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, _HEADERS, OTEL_RESOURCE_ATTRIBUTES, OTEL_SDK_DISABLED."""
    if not endpoint and not os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        install(None)
        return False
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    attributes: dict[str, str] = {"service.name": service, "service.namespace": "mrrrme"}
    if instance:
        attributes["service.instance.id"] = instance
    provider = TracerProvider(resource=Resource.create(attributes))
    # The traces-specific variable, when set, is the full URL and wins (the exporter reads it itself).
    url = None if os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") else endpoint.rstrip("/") + "/v1/traces"
    # Batched on the SDK's thread: a slow or absent collector never delays a unit, spans are dropped instead.
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=url)))
    install(provider)
    log.info("%s: tracing on, spans to %s", service, url or os.environ["OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"])
    return True


def shutdown_tracing() -> None:
    """Flush the spans still batched (at exit: the last turn's spans are not lost) and switch off."""
    provider = _provider
    install(None)
    if provider is not None:
        provider.shutdown()


def _tracer(service: str) -> Tracer:
    tracer = _tracers.get(service)
    if tracer is None:
        assert _provider is not None
        # One instrumentation scope per service: in production one process is one service (the resource
        # says which); in the tests several services share a process, and the scope tells them apart.
        tracer = _tracers[service] = _provider.get_tracer(f"mrrrme.{service}")
    return tracer


class Stage:
    """One stage of a unit's trip (`span` yields it): `trace` is the context what it publishes carries."""

    __slots__ = ("_span", "trace")

    def __init__(self, trace: TraceContext, otel_span: Any = None) -> None:
        self.trace = trace
        self._span = otel_span

    def set(self, **attributes: AttributeValue) -> None:
        """Attributes known only later (a unit's outcome); nothing when tracing is off."""
        if self._span is not None:
            self._span.set_attributes({f"mrrrme.{key}": value for key, value in attributes.items()})

    def outcome(self, outcome: str) -> None:
        """How the unit ended, the runtime's outcome label; a failure gives the span an error status."""
        if self._span is None:
            return
        self._span.set_attribute("mrrrme.outcome", outcome)
        if outcome in FAILED:
            from opentelemetry.trace import Status, StatusCode

            self._span.set_status(Status(StatusCode.ERROR, outcome))


FAILED = frozenset({"error", "unavailable", "retry"})
"""Outcomes that mark a span as failed (bad input is the sender's fault, and answered: not an error here)."""


@contextmanager
def span(
    service: str,
    name: str,
    parent: TraceContext | None,
    kind: SpanKind = "internal",
    attributes: Mapping[str, AttributeValue] | None = None,
) -> Iterator[Stage]:
    """One stage of a unit's trip, a child of `parent` (the sender's context; None starts a new trace).

    The stage's `trace` is the context that what it publishes carries (its `traceparent`); log lines
    written inside carry its trace id. With tracing on it is a real span, ended (with an error status if
    the block raised) when the block ends; with tracing off only the ids are derived."""
    if _provider is None:
        trace = parent.child() if parent is not None else TraceContext.new()
        with _logged(trace):
            yield Stage(trace)
        return
    from opentelemetry import trace as otel

    if parent is not None:
        remote = otel.SpanContext(
            trace_id=int(parent.trace_id, 16),
            span_id=int(parent.span_id, 16),
            is_remote=True,
            trace_flags=otel.TraceFlags(otel.TraceFlags.SAMPLED if parent.sampled else otel.TraceFlags.DEFAULT),
        )
        context = otel.set_span_in_context(otel.NonRecordingSpan(remote))
    else:
        # A new trace even if an OpenTelemetry span is current in this task: a unit's parent is the message
        # it came from, never whatever task happened to start the subscription it arrived on.
        context = otel.set_span_in_context(otel.INVALID_SPAN)
    with _tracer(service).start_as_current_span(
        name, context=context, kind=getattr(otel.SpanKind, kind.upper()), attributes=attributes
    ) as current:
        sc = current.get_span_context()
        trace = TraceContext(format(sc.trace_id, "032x"), format(sc.span_id, "016x"), sc.trace_flags.sampled)
        with _logged(trace):
            yield Stage(trace, current)


@contextmanager
def _logged(trace: TraceContext) -> Iterator[None]:
    trace_token, span_token = TRACE_ID.set(trace.trace_id), SPAN_ID.set(trace.span_id)
    try:
        yield
    finally:
        SPAN_ID.reset(span_token)
        TRACE_ID.reset(trace_token)
