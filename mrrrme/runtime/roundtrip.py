"""A barrier with the NATS server: everything this connection sent so far has been processed there."""

from __future__ import annotations

from nats.aio.client import Client as NATS


async def sync_with_server(nc: NATS) -> None:
    """Return once the server has processed every SUB and PUB this connection has sent so far.

    One `nc.flush()` does not promise that in nats-py (2.16): its PING is written to the socket at once,
    while earlier commands may still wait in the client's buffer for its flusher task, so the PONG can
    come back before the server has seen them. A subscription made just before such a flush then misses
    a message another connection publishes right after it (measured: 154 of 1000 fresh subscriptions;
    tests/test_runtime.py keeps the case). By the time the first PONG is read, the flusher has written
    that buffer (its wake-up is queued before any answer can arrive); the second PING goes out behind
    it, so its PONG means the server has processed all of it."""
    await nc.flush()
    await nc.flush()
