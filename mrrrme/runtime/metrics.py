"""Prometheus metrics of one service: `mrrrme_<what>{service="<name>",...}`, never labelled per session.

Named the Prometheus way: one metric family per measurement, the same for every service, with the
service as a label (`sum by (service) (rate(mrrrme_messages_total[5m]))` compares them all in one
query), rather than the service's name inside each metric's name. Each registry also exports the
standard process metrics (`process_cpu_seconds_total`, `process_resident_memory_bytes`, open files...),
the Python GC and the platform.
"""

from __future__ import annotations

from typing import Generic, TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.gc_collector import GCCollector
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.platform_collector import PlatformCollector
from prometheus_client.process_collector import ProcessCollector

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64)

M = TypeVar("M", bound=MetricWrapperBase)


def add_process_metrics(registry: CollectorRegistry) -> None:
    """The default process, GC and platform collectors, which prometheus_client puts only on its global
    registry (we keep one registry per service so that several services can share a test process)."""
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    GCCollector(registry=registry)


class ForService(Generic[M]):
    """A metric family with its `service` label already given: `.labels(kind, outcome)` as if the
    family had only the other labels, so that call sites stay short and cannot forget the service."""

    def __init__(self, family: M, service: str) -> None:
        self.family: M = family
        self.service = service

    def labels(self, *values: str) -> M:
        return self.family.labels(self.service, *values)


class ServiceMetrics:
    """The runtime's standard metrics; a service adds its own to `registry` (with a `service` label too)."""

    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.service = service
        r = self.registry
        self.messages = ForService(
            Counter(
                "mrrrme_messages_total",
                "Units received, by service, subject kind and outcome (ok, bad_input, error, dropped, stale...)",
                ["service", "kind", "outcome"],
                registry=r,
            ),
            service,
        )
        self.handler_seconds = ForService(
            Histogram(
                "mrrrme_handler_seconds",
                "Time spent in the handler per call (a batch counts once), by service and subject kind",
                ["service", "kind"],
                buckets=LATENCY_BUCKETS,
                registry=r,
            ),
            service,
        )
        self.batch_size = ForService(
            Histogram(
                "mrrrme_batch_size",
                "Units per handler call, by service and subject kind",
                ["service", "kind"],
                buckets=BATCH_BUCKETS,
                registry=r,
            ),
            service,
        )
        self.published = ForService(
            Counter(
                "mrrrme_published_total",
                "Messages published, by service and subject kind",
                ["service", "kind"],
                registry=r,
            ),
            service,
        )
        self.queued = ForService(
            Gauge(
                "mrrrme_queued",
                "Units waiting for a micro-batch, by service and subject kind: a service that is behind "
                "(its autoscaling signal)",
                ["service", "kind"],
                registry=r,
            ),
            service,
        )
        self.ready = Gauge("mrrrme_ready", "1 once the model is loaded and warmed up", ["service"], registry=r).labels(
            service
        )
        self.redeliveries = ForService(
            Counter(
                "mrrrme_redeliveries_total",
                "Durable units seen again after a failed or lost delivery",
                ["service", "kind"],
                registry=r,
            ),
            service,
        )
        self.dead_letters = ForService(
            Counter(
                "mrrrme_dead_letters_total",
                "Durable units given up on and moved to the dead-letter stream",
                ["service", "kind"],
                registry=r,
            ),
            service,
        )
        add_process_metrics(r)
