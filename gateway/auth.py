"""Who is on the socket. `TokenVerifier` is the interface; `DevTokenStore` the minimal dev login.

The accounts issue replaces the dev store with real accounts (argon2id, expiry, logout); the socket
code only ever sees `TokenVerifier.verify`. Tokens are 256-bit random strings and only their SHA-256
is stored, so a Redis dump does not hand out sessions.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass
from typing import Protocol

from redis.asyncio import Redis

USERNAME = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Identity | None: ...


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class DevTokenStore:
    """Issue a token for any username, no password: for development and tests only."""

    TTL_S = 24 * 3600
    KEY = "mrrrme:devtoken:"

    def __init__(self, redis: Redis) -> None:
        self._redis = redis

    async def issue(self, username: str) -> str:
        if not USERNAME.match(username):
            raise ValueError("username must be 1-64 characters of letters, digits, '_', '.' or '-'")
        token = secrets.token_urlsafe(32)
        await self._redis.set(self.KEY + token_hash(token), username, ex=self.TTL_S)
        return token

    async def verify(self, token: str) -> Identity | None:
        if not token or len(token) > 256:
            return None
        username = await self._redis.get(self.KEY + token_hash(token))
        if username is None:
            return None
        name = username.decode() if isinstance(username, bytes) else str(username)
        return Identity(user_id=f"dev:{name}", username=name)
