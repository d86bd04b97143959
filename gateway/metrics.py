"""Gateway metrics, `mrrrme_gateway_*`, never labelled per session or user."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from mrrrme.runtime.metrics import LATENCY_BUCKETS


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
        self.vad_seconds = Histogram(
            "mrrrme_gateway_vad_seconds", "VAD time per audio chunk", buckets=LATENCY_BUCKETS, registry=r
        )
        self.rejected_handshakes = Counter(
            "mrrrme_gateway_rejected_handshakes_total",
            "WebSocket handshakes refused, by reason",
            ["reason"],
            registry=r,
        )
