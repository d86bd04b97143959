"""The shape every model service shares: load a model on the model thread, warm it up, then answer
micro-batches of units with its results (or each unit's BadInput as an error event)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from mrrrme.logs import configure_logging
from mrrrme.runtime.batching import BatchPolicy
from mrrrme.runtime.service import Delivery, Service, reply_each
from mrrrme.settings import MeshSettings, ServiceSettings

T = TypeVar("T", bound=msgspec.Struct)
M = TypeVar("M")
S = TypeVar("S", bound=MeshSettings)


def serve_model(
    service: Service,
    *,
    subject: str,
    schema: type[T],
    queue: str,
    policy: BatchPolicy,
    load: Callable[[], M],
    warm_up: Callable[[M], object],
    analyse: Callable[[M, list[T]], list[Any]],
    reply_to: Callable[[str], str],
    admit: Callable[[Delivery[T]], bool] | None = None,
) -> None:
    """Wire a model into `service`; `admit` may turn units away before the model (e.g. stale frames)."""
    model: list[M] = []

    @service.on_startup
    async def load_and_warm_up() -> None:
        model.append(await service.run_blocking(load))
        await service.run_blocking(warm_up, model[0])

    @service.consume_batches(subject, schema=schema, queue=queue, policy=policy)
    async def on_batch(batch: list[Delivery[T]]) -> None:
        units = batch if admit is None else [d for d in batch if admit(d)]
        results = await service.run_blocking(analyse, model[0], [d.message for d in units])
        await reply_each(units, results, reply_to)


def run_in_background() -> None:
    """Lowest CPU priority for this process, before it starts any thread (threads inherit it).

    SCHED_IDLE rather than a high nice level: measured with 20 sessions on 2 cores (bench/sessions.py),
    a face service at nice 10 still slowed every turn by a few hundred milliseconds; under SCHED_IDLE
    it gets only the CPU time the turn does not want."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:  # macOS and other systems without SCHED_IDLE
        os.nice(19)


def run_main(settings_class: type[S], build: Callable[[S], Service]) -> None:
    """A service's `main`: settings from the environment, logging, serve until SIGTERM."""
    settings = settings_class()
    configure_logging(settings.log_level)
    if isinstance(settings, ServiceSettings) and settings.cpu_priority == "background":
        run_in_background()
    asyncio.run(build(settings).run())
