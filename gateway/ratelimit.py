"""Per-connection rate limits: a token bucket per message class, and a flood detector.

Excess messages are dropped (the client is told, at most once a second); a client that keeps sending
more than twice its allowance for a whole second is closed with 1008 (TARGETS.md W6). WebSocket
handshakes are limited per address (`AddressWindow`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field


@dataclass
class TokenBucket:
    rate: float
    burst: float
    tokens: float = -1.0
    updated: float = field(default_factory=time.monotonic)
    dropped_window: int = 0
    window_start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        if self.tokens < 0:
            self.tokens = self.burst

    def allow(self, now: float | None = None) -> bool:
        now = time.monotonic() if now is None else now
        self.tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        if now - self.window_start >= 1.0:
            self.window_start, self.dropped_window = now, 0
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        self.dropped_window += 1
        return False

    @property
    def flooding(self) -> bool:
        """More than the allowance again dropped within one second: not an honest client."""
        return self.dropped_window > max(self.rate, 1.0)

    def wait_s(self, now: float | None = None) -> float:
        """Seconds until the next `allow()` can succeed."""
        now = time.monotonic() if now is None else now
        tokens = min(self.burst, self.tokens + (now - self.updated) * self.rate)
        return 0.0 if tokens >= 1.0 else (1.0 - tokens) / self.rate


@dataclass
class AddressWindow:
    """At most `limit` events per address per `window_s` (fixed windows), for WebSocket handshakes.

    Per gateway replica and in memory: a handshake must not wait on Redis, and behind a load balancer
    each replica's share of one address is what it can be flooded with. Memory stays bounded: expired
    windows are forgotten, and at `max_addresses` the oldest windows go first.
    """

    limit: int
    window_s: float = 60.0
    max_addresses: int = 100_000
    _windows: dict[str, tuple[float, int]] = field(default_factory=dict)

    def allow(self, address: str, now: float | None = None) -> float:
        """0.0 if this event is allowed, else the seconds until the address's window ends."""
        now = time.monotonic() if now is None else now
        started, count = self._windows.get(address, (-self.window_s, 0))
        if now - started >= self.window_s:
            started, count = now, 0
            self._windows.pop(address, None)  # a new window goes last: dict order is window age
        if count >= self.limit:
            return max(0.001, started + self.window_s - now)
        self._windows[address] = (started, count + 1)
        if len(self._windows) > self.max_addresses:
            self._prune(now)
        return 0.0

    def _prune(self, now: float) -> None:
        for address, (started, _) in list(self._windows.items()):
            if now - started < self.window_s and len(self._windows) <= self.max_addresses:
                break
            del self._windows[address]
