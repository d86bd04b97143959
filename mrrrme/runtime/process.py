"""A service process's entry point: settings from the environment, logging, CPU priority, serve."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from typing import Any, TypeVar

from mrrrme.backends import StartupError
from mrrrme.logs import configure_logging
from mrrrme.runtime.service import Service
from mrrrme.runtime.tracing import configure_tracing, shutdown_tracing
from mrrrme.settings import ServiceSettings

S = TypeVar("S", bound=ServiceSettings)


def run_in_background() -> None:
    """Lowest CPU priority for this process, before it starts any thread (threads inherit it).

    SCHED_IDLE rather than a high nice level: measured with 20 sessions on 2 cores (bench/sessions.py),
    a face service at nice 10 still slowed every turn by a few hundred milliseconds; under SCHED_IDLE
    it gets only the CPU time the turn does not want."""
    if hasattr(os, "sched_setscheduler") and hasattr(os, "SCHED_IDLE"):
        os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))
    else:  # macOS and other systems without SCHED_IDLE
        os.nice(19)


BLAS_THREAD_VARIABLES = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def single_threaded_blas() -> None:
    """numpy's BLAS (OpenBLAS) on one thread, unless the environment asks for more.

    Each service is a process of its own and its models run their own threads (onnxruntime, CTranslate2,
    LiteRT), so BLAS threads add no speed here. They cost CPU: OpenBLAS's workers spin for a while after
    every matrix product, and on a 2-core machine that burned ~100 ms of the other core per Smart Turn
    question (its log-mel features end in one product; bench/budget.py: Smart Turn 835 -> 558 ms of CPU
    per turn)."""
    if any(name in os.environ for name in BLAS_THREAD_VARIABLES):
        return
    import numpy  # noqa: F401 - loads the BLAS library that the limit applies to
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def run_main(settings_class: type[S], service_class: Callable[[S], Service[Any]]) -> None:
    """A service's `__main__`: settings from the environment, logging, serve until SIGTERM."""
    settings = settings_class()
    configure_logging(settings.log_level, settings.log_format, service=_name_of(service_class))
    single_threaded_blas()
    if settings.cpu_priority == "background":
        run_in_background()
    try:
        service = service_class(settings)
    except StartupError as exc:  # e.g. a backend name nobody registered: one line naming the fix
        logging.getLogger("mrrrme.runtime").error("cannot start: %s", exc)
        raise SystemExit(2) from None
    configure_tracing(service.name, settings.otlp_endpoint, service.instance)
    try:
        asyncio.run(service.run())
    finally:
        shutdown_tracing()  # the spans of the last units, still batched, are sent before the process ends


def _name_of(service_class: Callable[..., Service[Any]]) -> str:
    """The service's name for its log lines, known before the service is built (its class says it)."""
    return str(getattr(service_class, "name", "") or "")
