"""What the gateway's parts share at run time: connections, accounts, the open sockets, account events.

In its own module so that the app, the sockets and the REST routes all depend on it and it on none of
them (the sockets are seen through `LiveSession`): no import loop, not even a type-only one.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Protocol

from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from redis.asyncio import Redis

from gateway.accounts.service import Accounts, Identity
from gateway.accounts.throttle import LoginThrottle, account_key
from gateway.directory import discover
from gateway.metrics import GatewayMetrics
from gateway.protocol import CLOSE_AUTH
from gateway.ratelimit import AddressWindow
from gateway.reply_audio import ReplyAudioStore
from gateway.settings import GatewaySettings
from gateway.turn import TurnModel
from gateway.vad import SileroVad
from mrrrme import subjects
from mrrrme.contracts import AccountEvent, ContractError, HealthReport, decode, encode
from mrrrme.erasure import erase_session_state
from mrrrme.runtime import sync_with_server
from mrrrme.store import Database, privacy

log = logging.getLogger("gateway")


class LiveSession(Protocol):
    """An open socket as the rest of the gateway sees it (gateway/session.py's ClientSession)."""

    identity: Identity | None

    @property
    def consent(self) -> dict[str, bool]: ...

    def apply_consent(self, camera: bool, microphone: bool) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


@dataclass
class GatewayState:
    settings: GatewaySettings
    nc: NATS
    js: JetStreamContext
    redis: Redis
    db: Database
    accounts: Accounts
    throttle: LoginThrottle
    vad: SileroVad
    metrics: GatewayMetrics
    turn: TurnModel | None = None
    """Smart Turn, loaded and warmed once per gateway when `end_of_turn` is "model"; every session shares it."""
    sessions: dict[str, LiveSession] = field(default_factory=dict)
    handshakes: AddressWindow = field(default_factory=lambda: AddressWindow(10))
    reply_audio: ReplyAudioStore = field(default_factory=ReplyAudioStore)
    """Reply sentences' audio behind their `audio_url`, for the seed's client (gateway/reply_audio.py)."""
    _directory: tuple[float, list[HealthReport]] = (0.0, [])
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    """Deferred work (the second erasure sweep): referenced until done, and its failure logged."""

    async def announce(self, event: AccountEvent) -> None:
        """Tell every gateway replica (this one included) so that the user's sockets act on it now."""
        await self.nc.publish(subjects.ACCOUNT_EVENTS, encode(event))
        await sync_with_server(self.nc)

    async def on_account_event(self, msg: Msg) -> None:
        try:
            event = decode(msg.data, AccountEvent)
        except ContractError as exc:
            log.warning("unreadable account event: %s", exc)
            return
        for session in list(self.sessions.values()):
            if session.identity is None or session.identity.user_id != event.user_id:
                continue
            if event.action == "consent":
                session.apply_consent(camera=event.camera, microphone=event.microphone)
            elif event.action == "deleted":
                session.close_soon(CLOSE_AUTH, "account deleted")
            elif event.login_id == session.identity.login_id:
                session.close_soon(CLOSE_AUTH, "logged out")

    async def erase_user(self, identity: Identity) -> None:
        """DELETE /api/me: close the user's sockets, then remove rows, Redis keys and pending work."""
        await self.announce(AccountEvent(user_id=identity.user_id, action="deleted"))
        for _ in range(20):  # the sockets' own clean-up publishes an end: let it happen before erasing
            if not any(s.identity and s.identity.user_id == identity.user_id for s in self.sessions.values()):
                break
            await asyncio.sleep(0.05)
        async with self.db.session() as db:
            session_ids = await privacy.conversation_ids(db, identity.user_id)
            await privacy.erase(db, identity.user_id)
        await erase_session_state(self.redis, self.js, session_ids)
        await self.redis.delete(account_key(identity.username))
        # A reply already in flight may still write its session's short-term context: sweep again after it.
        self._run_later(3.0, self._sweep_again(session_ids), "second erasure sweep")
        log.info("erased an account and %d sessions", len(session_ids))

    async def _sweep_again(self, session_ids: list[str]) -> None:
        await erase_session_state(self.redis, self.js, session_ids)

    def _run_later(self, delay_s: float, work: Coroutine[Any, Any, None], what: str) -> None:
        """Run `work` after `delay_s` in a task that is kept and whose failure is logged (privacy-critical
        sweeps must not fail unseen)."""

        async def later() -> None:
            await asyncio.sleep(delay_s)
            await work

        task = asyncio.get_running_loop().create_task(later(), name=what)
        self._background.add(task)

        def done(task: asyncio.Task[None]) -> None:
            self._background.discard(task)
            if not task.cancelled() and (exc := task.exception()) is not None:
                log.error("%s failed: %s: %s", what, type(exc).__name__, exc)

        task.add_done_callback(done)

    async def directory(self, max_age_s: float = 2.0) -> list[HealthReport]:
        """Service replicas and their readiness, cached briefly so /health cannot be used to flood NATS."""
        taken, reports = self._directory
        if time.monotonic() - taken > max_age_s:
            reports = await discover(self.nc, self.settings.health_timeout_s)
            self._directory = (time.monotonic(), reports)
        return reports

    async def service_ready(self, service: str) -> bool:
        return any(r.service == service and r.ready for r in await self.directory())
