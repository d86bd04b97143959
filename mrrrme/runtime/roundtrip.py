"""A barrier with the NATS server: everything this connection sent so far has been processed there."""

from __future__ import annotations

import asyncio

from nats.aio.client import Client as NATS


async def flush(nc: NATS) -> None:
    """`nc.flush()` that its caller may be cancelled in.

    nats-py (2.16) leaves a cancelled flush's future in its queue of PONG waiters; the PONG that answers
    it then raises InvalidStateError in the read loop, which drops the rest of that read (other PONGs,
    messages), so later flushes of the whole connection can hang (seen: a socket closed while its greeting
    asked who is ready, and the next socket never got `ready`). Shielded, the flush runs to its PONG
    whatever happens to the caller; what it raises after the caller left is read here, not lost."""
    task = asyncio.ensure_future(nc.flush())
    task.add_done_callback(lambda done: done.cancelled() or done.exception())
    await asyncio.shield(task)


async def sync_with_server(nc: NATS) -> None:
    """Return once the server has processed every SUB and PUB this connection has sent so far.

    One `nc.flush()` does not promise that in nats-py (2.16): its PING is written to the socket at once,
    while earlier commands may still wait in the client's buffer for its flusher task, so the PONG can
    come back before the server has seen them. A subscription made just before such a flush then misses
    a message another connection publishes right after it (measured: 154 of 1000 fresh subscriptions;
    tests/test_runtime.py keeps the case). By the time the first PONG is read, the flusher has written
    that buffer (its wake-up is queued before any answer can arrive); the second PING goes out behind
    it, so its PONG means the server has processed all of it."""
    await flush(nc)
    await flush(nc)
