"""The one way a process opens Redis: with its connection errors retried.

After a Redis restart every pooled connection is stale, and redis-py fails the first command on each of
them unless connection errors are listed in `retry_on_error`: without it, a restart cost one failed unit
(a lost transcript, a turn redelivered) and one outage log line per pooled connection. With it, a stale
connection is reconnected and the command retried (redis-py's backoff, about 4 s in all) and a real
outage still ends in a `ConnectionError` for the caller.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError


def redis_client(url: str) -> Redis:
    """A client for `url` (it connects on first use)."""
    return Redis.from_url(url, retry_on_error=[RedisConnectionError, RedisTimeoutError])
