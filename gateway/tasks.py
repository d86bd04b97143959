"""The background work of one socket: tasks that are kept until done, whose failure is logged once.

A fire-and-forget task that fails is a failure nobody sees (issue #16): every task a socket starts
beside its receive loop goes through `Background`, and `stop` ends tasks without letting what they
raised (a send to a client that is gone) skip the caller's clean-up.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from typing import Any

from starlette.websockets import WebSocketDisconnect

log = logging.getLogger("gateway.session")


class Background:
    def __init__(self, session_id: str) -> None:
        self._label = session_id[:8]
        self.tasks: set[asyncio.Task[None]] = set()

    def spawn(self, work: Coroutine[Any, Any, None], what: str) -> asyncio.Task[None] | None:
        """Run `work` beside the receive loop, keeping a reference and logging a failure once."""
        try:
            task = asyncio.get_running_loop().create_task(work, name=f"ws-{what}-{self._label}")
        except RuntimeError:  # no running loop: the server is gone, nothing left to do
            work.close()
            return None
        self.tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and (exc := task.exception()) is not None:
            log.warning("session %s: %s failed: %s", self._label, task.get_name(), describe(exc))


async def stop(*tasks: asyncio.Task[None] | None) -> None:
    """Cancel and wait for tasks; what they raised (a client gone mid-send, say) is theirs, not ours."""
    pending = [task for task in tasks if task is not None and task is not asyncio.current_task()]
    for task in pending:
        task.cancel()
    results = await asyncio.gather(*pending, return_exceptions=True)
    for task, result in zip(pending, results, strict=True):
        if isinstance(result, Exception) and not isinstance(result, WebSocketDisconnect | OSError):
            log.warning("%s ended with %s", task.get_name(), describe(result))


def describe(exc: BaseException) -> str:
    """One line for a log: the type and the message, never a traceback (nor a payload)."""
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
