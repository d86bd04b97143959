"""The service runtime: one way to build a worker on the mesh (see docs/architecture.md)."""

from mrrrme.runtime.batching import BatchPolicy, MicroBatcher
from mrrrme.runtime.model_service import Consumes, ModelService, Ready
from mrrrme.runtime.process import run_main
from mrrrme.runtime.roundtrip import sync_with_server
from mrrrme.runtime.service import (
    BadInput,
    Context,
    Delivery,
    RetryLater,
    Service,
    connect_nats,
    publish_durable,
)

__all__ = [
    "BadInput",
    "BatchPolicy",
    "Consumes",
    "Context",
    "Delivery",
    "MicroBatcher",
    "ModelService",
    "Ready",
    "RetryLater",
    "Service",
    "connect_nats",
    "publish_durable",
    "run_main",
    "sync_with_server",
]
