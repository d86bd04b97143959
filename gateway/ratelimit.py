"""Per-connection rate limits: a token bucket per message class, and a flood detector.

Excess messages are dropped (the client is told, at most once a second); a client that keeps sending
more than twice its allowance for a whole second is closed with 1008 (TARGETS.md W6).
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
