"""Login throttling in Redis, shared by every gateway replica (TARGETS.md A5).

Per address: at most `per_ip_per_min` login and signup attempts a minute. Per account (keyed by a hash of
the lower-cased username, existing or not, so the answer never tells which): after `free_failures` wrong
passwords each further attempt waits twice as long as the one before (up to `max_backoff_s`), and more
than `per_account_per_hour` failures in an hour refuse the account for the rest of that hour, from any
address. Nothing locks an account for good; a successful login clears its failures.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Any

from mrrrme import keys


@dataclass(frozen=True)
class ThrottlePolicy:
    per_ip_per_min: int = 30
    per_account_per_hour: int = 100
    free_failures: int = 5
    max_backoff_s: float = 300.0


class Throttled(Exception):
    def __init__(self, retry_after_s: float) -> None:
        super().__init__(f"too many attempts: try again in {retry_after_s:.0f} s")
        self.retry_after_s = max(1.0, retry_after_s)


def account_key(username: str) -> str:
    return keys.throttle_account(hashlib.sha256(username.strip().lower().encode()).hexdigest()[:32])


class LoginThrottle:
    def __init__(self, redis: Any, policy: ThrottlePolicy) -> None:
        self.redis = redis
        self.policy = policy

    async def check_address(self, address: str) -> None:
        key = keys.throttle_address(address)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=60, nx=True)  # the window starts with the first attempt
            pipe.incr(key)
            pipe.ttl(key)
            _, count, ttl = await pipe.execute()
        if int(count) > self.policy.per_ip_per_min:
            raise Throttled(float(ttl))

    async def check_account(self, username: str) -> None:
        state = await self.redis.hgetall(account_key(username))
        failures = int(state.get(b"failures", 0))
        if failures >= self.policy.per_account_per_hour:
            raise Throttled(float(await self.redis.ttl(account_key(username))))
        extra = failures - self.policy.free_failures
        if extra >= 0:
            wait = min(self.policy.max_backoff_s, 2.0**extra)
            since = time.time() - float(state.get(b"last", 0.0))
            if since < wait:
                raise Throttled(wait - since)

    async def failed(self, username: str) -> None:
        key = account_key(username)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hincrby(key, "failures", 1)
            pipe.hset(key, "last", time.time())
            failures, _ = await pipe.execute()
        if int(failures) == 1:
            await self.redis.expire(key, 3600)  # the hour counts from the first failure

    async def succeeded(self, username: str) -> None:
        await self.redis.delete(account_key(username))
