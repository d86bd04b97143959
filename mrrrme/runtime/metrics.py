"""Prometheus metrics of one service, named `mrrrme_<service>_...`, never labelled per session."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)


class ServiceMetrics:
    """The runtime's standard metrics; a service adds its own to `registry`."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        prefix = f"mrrrme_{service.replace('-', '_')}"
        self.messages = Counter(
            f"{prefix}_messages_total",
            "Units received, by subject kind and outcome (ok, bad_input, error, dropped)",
            ["kind", "outcome"],
            registry=self.registry,
        )
        self.handler_seconds = Histogram(
            f"{prefix}_handler_seconds",
            "Time spent in the handler per call (a batch counts once)",
            ["kind"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.batch_size = Histogram(
            f"{prefix}_batch_size",
            "Units per handler call",
            ["kind"],
            buckets=BATCH_BUCKETS,
            registry=self.registry,
        )
        self.published = Counter(
            f"{prefix}_published_total",
            "Messages published, by subject kind",
            ["kind"],
            registry=self.registry,
        )
        self.queued = Gauge(
            f"{prefix}_queued",
            "Units waiting for a micro-batch, by subject kind: a service that is behind (its autoscaling signal)",
            ["kind"],
            registry=self.registry,
        )
        self.ready = Gauge(f"{prefix}_ready", "1 once the model is loaded and warmed up", registry=self.registry)
        self.redeliveries = Counter(
            f"{prefix}_redeliveries_total",
            "Durable units seen again after a failed or lost delivery",
            ["kind"],
            registry=self.registry,
        )
        self.dead_letters = Counter(
            f"{prefix}_dead_letters_total",
            "Durable units given up on and moved to the dead-letter stream",
            ["kind"],
            registry=self.registry,
        )
