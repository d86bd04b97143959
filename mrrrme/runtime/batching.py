"""Micro-batching across sessions: collect units for at most `max_wait_ms`, up to `max_size`, run once.

This is where a shared mesh beats one process per session: a model call on 8 frames from 8 sessions
costs far less than 8 calls. The queue is bounded: when the model cannot keep up, the oldest units
(perishable media) are dropped and counted instead of growing memory and latency without limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class BatchPolicy:
    max_size: int = 8
    """The most units in one model call."""
    max_wait_ms: float = 10.0
    """How long the first unit of a batch may wait for company."""
    max_queue: int = 256
    """Units waiting beyond this are dropped, oldest first (perishable media)."""

    def __post_init__(self) -> None:
        if self.max_size < 1 or self.max_wait_ms < 0 or self.max_queue < self.max_size:
            raise ValueError(f"invalid batch policy {self}")


class MicroBatcher(Generic[T]):
    """Feeds `handle` with batches; `aclose()` processes everything already queued, then stops."""

    def __init__(
        self,
        policy: BatchPolicy,
        handle: Callable[[list[T]], Awaitable[None]],
        on_drop: Callable[[T], None] | None = None,
    ) -> None:
        self.policy = policy
        self._handle = handle
        self._on_drop = on_drop
        self._queue: asyncio.Queue[T] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="micro-batcher")

    def put(self, item: T) -> None:
        if self._closing:
            raise RuntimeError("batcher is closing")
        if self._queue.qsize() >= self.policy.max_queue:
            oldest = self._queue.get_nowait()
            self._queue.task_done()
            if self._on_drop is not None:
                self._on_drop(oldest)
        self._queue.put_nowait(item)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    async def _next_batch(self) -> list[T]:
        batch = [await self._queue.get()]
        deadline = time.monotonic() + self.policy.max_wait_ms / 1000
        while len(batch) < self.policy.max_size:
            if not self._queue.empty():
                batch.append(self._queue.get_nowait())
                continue
            remaining = deadline - time.monotonic()
            if remaining <= 0 or self._closing:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _run(self) -> None:
        while True:
            batch = await self._next_batch()
            try:
                await self._handle(batch)
            except Exception:  # the handler reports per-unit errors; this is a last resort
                log.exception("batch handler failed on %d units", len(batch))
            finally:
                for _ in batch:
                    self._queue.task_done()

    async def aclose(self) -> None:
        """Stop taking units, finish every queued one, then stop the loop."""
        self._closing = True
        if self._task is None:
            return
        await self._queue.join()
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
