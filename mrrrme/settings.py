"""One settings style for every service: pydantic-settings, an env prefix per service.

The connection settings every process shares (`NATS_URL`, `REDIS_URL`, `MRRRME_PROFILE`, ...) are read
without the prefix so that one environment configures the whole mesh; everything specific to a service
is `MRRRME_<SERVICE>_<FIELD>`. docs/configuration.md lists them all.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def shared(env: str, default: object, description: str) -> object:
    """A field read from an un-prefixed, mesh-wide environment variable."""
    return Field(default, validation_alias=AliasChoices(env), description=description)


class MeshSettings(BaseSettings):
    """Settings every process of the mesh reads."""

    model_config = SettingsConfigDict(env_prefix="MRRRME_", extra="ignore", populate_by_name=True)

    nats_url: str = shared("NATS_URL", "nats://127.0.0.1:4222", "NATS server URL(s), comma-separated")  # type: ignore[assignment]
    redis_url: str = shared("REDIS_URL", "redis://127.0.0.1:6379/0", "Redis URL for cross-event session state")  # type: ignore[assignment]
    profile: Literal["lite", "full"] = shared(  # type: ignore[assignment]
        "MRRRME_PROFILE", "lite", "Model profile: lite (offline CPU) or full (the seed's models)"
    )
    database_url: str = shared(  # type: ignore[assignment]
        "DATABASE_URL",
        "sqlite:///data/mrrrme.db",
        "System of record (gateway, memory): a SQLite file by default, or postgresql://user:pw@host/db",
    )
    log_level: str = shared(  # type: ignore[assignment]
        "MRRRME_LOG_LEVEL", "INFO", "Python log level (libraries that log payloads stay at INFO or above)"
    )
    log_format: Literal["text", "json"] = shared(  # type: ignore[assignment]
        "MRRRME_LOG_FORMAT",
        "text",
        "Log lines: text, or json (one object a line for a log collector); both carry the trace id",
    )
    otlp_endpoint: str = Field(
        "",
        validation_alias=AliasChoices("MRRRME_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT"),
        description="OpenTelemetry collector's OTLP/HTTP base URL (e.g. http://otel-collector:4318): the spans of "
        "every stage go to its /v1/traces (the SDK's OTEL_TRACES_SAMPLER, OTEL_EXPORTER_OTLP_HEADERS... apply); "
        "empty: tracing off, no exporter",
    )
    stream_replicas: int = shared(  # type: ignore[assignment]
        "MRRRME_STREAM_REPLICAS",
        1,
        "Copies of each JetStream stream: 3 on a 3-node NATS cluster (survives losing a node), 1 on one server",
    )
    nats_ping_interval_s: float = shared(  # type: ignore[assignment]
        "MRRRME_NATS_PING_INTERVAL_S",
        5.0,
        "Seconds between client pings to NATS: a dead link is seen in ~3 pings",
    )
    nats_max_outstanding_pings: int = shared(  # type: ignore[assignment]
        "MRRRME_NATS_MAX_OUTSTANDING_PINGS", 3, "Unanswered pings before the NATS link counts as dead"
    )


class ServiceSettings(MeshSettings):
    """Base of each worker service's settings; subclasses set `env_prefix="MRRRME_<NAME>_"`."""

    metrics_port: int = Field(0, description="Port of /healthz, /readyz and /metrics (0: a free port)")
    metrics_host: str = Field("127.0.0.1", description="Interface of the metrics/health server")
    drain_timeout_s: float = Field(20.0, description="How long SIGTERM waits for in-flight work")
    cpu_priority: Literal["normal", "background"] = Field(
        "normal",
        description="background: the process runs only on CPU time nothing else wants (Linux SCHED_IDLE; "
        "elsewhere the lowest nice level)",
    )


class ModelSettings(ServiceSettings):
    """A service whose answer comes from one of its registered backends (`mrrrme.registry.Backends`)."""

    backend: str | None = Field(
        None, description="A backend registered for this service (its choices are listed below); default: the profile's"
    )
    device: str = Field("auto", description="Full backend: auto (CUDA when available), cpu, cuda, cuda:1...")


class BatchSettings(ModelSettings):
    """A model service that takes micro-batches (`mrrrme.runtime.ModelService`); subclasses set their defaults."""

    max_batch: int = Field(8, description="Most units in one model call")
    max_wait_ms: float = Field(10.0, description="How long a unit waits for a batch to fill")
    max_queue: int = Field(64, description="Units waiting beyond this are dropped, oldest first")
