"""The service runtime: one way to build a worker on the mesh (see docs/architecture.md)."""

from mrrrme.runtime.batching import BatchPolicy, MicroBatcher
from mrrrme.runtime.roundtrip import sync_with_server
from mrrrme.runtime.service import (
    BadInput,
    Context,
    Delivery,
    RetryLater,
    Service,
    connect_nats,
    publish_durable,
    reply_each,
)

__all__ = [
    "BadInput",
    "BatchPolicy",
    "Context",
    "Delivery",
    "MicroBatcher",
    "RetryLater",
    "Service",
    "connect_nats",
    "publish_durable",
    "reply_each",
    "sync_with_server",
]
