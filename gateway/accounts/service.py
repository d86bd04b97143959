"""Sign-up, login, logout and token checks against the database (TARGETS.md A1-A6).

A token is `secrets.token_urlsafe(32)` (256 bits) handed to the client once; the database keeps only its
SHA-256. A login ends at the first of: logout, `idle_timeout` without use, `absolute_lifetime` after it
began, or the account's deletion. The clock is injected so tests can move time.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from gateway.accounts.passwords import check_policy, hash_password, needs_rehash, verify_password
from mrrrme.contracts import new_id
from mrrrme.store import Database
from mrrrme.store.schema import LoginSession, User

USERNAME = re.compile(r"^[a-z0-9_.-]{3,64}$")
TOUCH_EVERY = dt.timedelta(seconds=30)
"""`last_seen_at` is written at most this often: a busy socket does not turn into a stream of writes."""


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass(frozen=True)
class Identity:
    user_id: str
    username: str
    role: str = "user"
    login_id: str = ""


class TokenVerifier(Protocol):
    async def verify(self, token: str) -> Identity | None: ...


class AccountError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


def invalid_credentials() -> AccountError:
    """The one answer for an unknown user and for a wrong password. A fresh instance each time: one
    shared instance would keep the last failed call's traceback, frames and their `password` local
    alive for as long as the process runs."""
    return AccountError(401, "invalid_credentials", "invalid username or password")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def canonical(username: str) -> str:
    return username.strip().lower()


@dataclass(frozen=True)
class Login:
    identity: Identity
    token: str
    expires_at: dt.datetime


class Accounts:
    def __init__(
        self,
        db: Database,
        idle_timeout: dt.timedelta,
        absolute_lifetime: dt.timedelta,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.db = db
        self.idle_timeout = idle_timeout
        self.absolute_lifetime = absolute_lifetime
        self.clock = clock

    async def signup(self, username: str, password: str) -> Login:
        name = canonical(username)
        if not USERNAME.match(name):
            raise AccountError(400, "invalid_username", "username: 3-64 of a-z, 0-9, '_', '.', '-'")
        try:
            check_policy(password, name)
        except ValueError as exc:
            raise AccountError(400, "weak_password", str(exc)) from None
        user = User(id=new_id(), username=name, password_hash=await hash_password(password), created_at=self.clock())
        try:
            async with self.db.session() as db:
                db.add(user)
        except IntegrityError:
            raise AccountError(409, "username_taken", "that username is taken") from None
        return await self._start_login(user)

    async def login(self, username: str, password: str) -> Login:
        name = canonical(username)
        async with self.db.session() as db:
            user = await db.scalar(select(User).where(User.username == name)) if len(name) <= 64 else None
        # Always one argon2 verify, against a dummy hash for an unknown user: same answer, same time.
        if not await verify_password(user.password_hash if user else None, password) or user is None:
            raise invalid_credentials()
        if needs_rehash(user.password_hash):
            async with self.db.session() as db:
                stored = await db.get(User, user.id)
                if stored is not None:
                    stored.password_hash = await hash_password(password)
        return await self._start_login(user)

    async def _start_login(self, user: User) -> Login:
        # A fresh token at every login: a token planted before login (fixation) is worth nothing after.
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = LoginSession(
            id=new_id(),
            user_id=user.id,
            token_hash=token_hash(token),
            created_at=now,
            last_seen_at=now,
            expires_at=now + self.absolute_lifetime,
        )
        async with self.db.session() as db:
            db.add(session)
        identity = Identity(user_id=user.id, username=user.username, role=user.role, login_id=session.id)
        return Login(identity=identity, token=token, expires_at=session.expires_at)

    async def verify(self, token: str) -> Identity | None:
        """The identity behind a live token, counting this as use; None when unknown, ended or expired."""
        if not token or len(token) > 128:
            return None
        now = self.clock()
        async with self.db.session() as db:
            row = (
                await db.execute(
                    select(LoginSession, User)
                    .join(User, User.id == LoginSession.user_id)
                    .where(LoginSession.token_hash == token_hash(token))
                )
            ).first()
            if row is None:
                return None
            login, user = row
            if now >= login.expires_at or now >= login.last_seen_at + self.idle_timeout:
                await db.delete(login)
                return None
            if now - login.last_seen_at >= TOUCH_EVERY:
                login.last_seen_at = now
        return Identity(user_id=user.id, username=user.username, role=user.role, login_id=login.id)

    async def logout(self, token: str) -> Identity | None:
        identity = await self.verify(token)
        if identity is not None:
            async with self.db.session() as db:
                await db.execute(delete(LoginSession).where(LoginSession.id == identity.login_id))
        return identity

    async def user(self, user_id: str) -> User | None:
        async with self.db.session() as db:
            return await db.get(User, user_id)
