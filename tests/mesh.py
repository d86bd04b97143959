"""Helpers for tests that talk to services over a real nats-server."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from mrrrme.contracts import decode
from mrrrme.runtime import Service, sync_with_server


class Inbox:
    """Everything published on a subject pattern, decoded as `schema`."""

    def __init__(self, schema: type[msgspec.Struct]) -> None:
        self.schema = schema
        self.items: list[Any] = []

    async def collect(self, msg: Msg) -> None:
        self.items.append(decode(msg.data, self.schema))

    async def wait_for(self, count: int, timeout: float = 60.0) -> list[Any]:
        try:
            async with asyncio.timeout(timeout):
                while len(self.items) < count:
                    await asyncio.sleep(0.01)
        except TimeoutError:
            raise AssertionError(f"{len(self.items)} of {count} messages within {timeout}s: {self.items[:5]}") from None
        return self.items


async def inbox(nc: NATS, subject: str, schema: type[msgspec.Struct]) -> Inbox:
    box = Inbox(schema)
    await nc.subscribe(subject, cb=box.collect)
    await sync_with_server(nc)
    return box


@contextlib.asynccontextmanager
async def started(*services: Service[Any]) -> AsyncIterator[None]:
    """Run in-process services for the block (started in order, stopped in reverse)."""
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service)
        yield
