"""Gateway metrics, never labelled per session or user.

`mrrrme_gateway_*` are the gateway's own measurements (sockets, client messages, VAD): no other process
has them, so `gateway` is their subsystem in the name, as Prometheus names go (`namespace_subsystem_name`);
the metrics every worker has are one family with a `service` label (mrrrme/runtime/metrics.py). HTTP is
measured the usual way, `mrrrme_http_requests_total` and `mrrrme_http_request_duration_seconds` by route
template (never the raw path: ids in paths would make a series per id), and the registry exports the
default process metrics.
"""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mrrrme.runtime.metrics import LATENCY_BUCKETS, add_process_metrics


class GatewayMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.connections = Gauge("mrrrme_gateway_connections", "Open, authenticated WebSockets", registry=r)
        self.messages = Counter(
            "mrrrme_gateway_messages_total",
            "Client messages by type and outcome",
            ["type", "outcome"],
            registry=r,
        )
        self.closes = Counter(
            "mrrrme_gateway_closes_total", "Sockets closed by the server, by code", ["code"], registry=r
        )
        self.events = Counter(
            "mrrrme_gateway_events_total", "Events forwarded to clients, by type", ["type"], registry=r
        )
        self.dropped = Counter("mrrrme_gateway_dropped_total", "Messages dropped, by reason", ["reason"], registry=r)
        self.utterances = Counter("mrrrme_gateway_utterances_total", "Utterances cut and published", registry=r)
        self.early_transcripts = Counter(
            "mrrrme_gateway_early_transcripts_total",
            "Speculative recognitions by outcome: used (it stood for the utterance), discarded (the person went "
            "on speaking), failed (no answer: the utterance was recognised as usual)",
            ["outcome"],
            registry=r,
        )
        self.vad_seconds = Histogram(
            "mrrrme_gateway_vad_seconds", "VAD time per audio chunk", buckets=LATENCY_BUCKETS, registry=r
        )
        self.rejected_handshakes = Counter(
            "mrrrme_gateway_rejected_handshakes_total",
            "WebSocket handshakes refused, by reason",
            ["reason"],
            registry=r,
        )
        self.http_requests = Counter(
            "mrrrme_http_requests_total",
            "HTTP requests answered, by method, route template and status code",
            ["method", "route", "status"],
            registry=r,
        )
        self.http_seconds = Histogram(
            "mrrrme_http_request_duration_seconds",
            "Time from a request's arrival to the end of its response, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        add_process_metrics(r)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
"""The route label of a request no route took (a 404): one series for every unknown path."""


class HttpMetrics:
    """ASGI middleware counting each HTTP request by its route template (`/api/history/{session_id}`),
    status and duration. Pure ASGI rather than Starlette's BaseHTTPMiddleware, which would buffer
    streamed responses; WebSockets are counted by the gateway's own socket metrics."""

    def __init__(self, app: ASGIApp, metrics: GatewayMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # what the client gets when the app raises before it starts a response

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            # The router writes the route it matched into the scope (Starlette: scope["route"]).
            route = getattr(scope.get("route"), "path", None) or UNMATCHED
            method = str(scope.get("method", "GET"))
            method = method if method in METHODS else "other"  # any token is a method to h11: keep the series few
            self.metrics.http_requests.labels(method, route, str(status)).inc()
            self.metrics.http_seconds.labels(method, route).observe(time.perf_counter() - started)
