"""The gateway: FastAPI app with the /ws socket, accounts and history REST, /health, /metrics and the web client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from redis.asyncio import Redis

from gateway import history
from gateway.accounts import routes as account_routes
from gateway.accounts.service import Accounts, Identity
from gateway.accounts.throttle import LoginThrottle, ThrottlePolicy, account_key
from gateway.directory import discover, summarise
from gateway.metrics import GatewayMetrics
from gateway.session import CLOSE_AUTH, CLOSE_GOING_AWAY, CLOSE_POLICY, ClientSession
from gateway.settings import GatewaySettings
from gateway.vad import CHUNK, SileroVad
from mrrrme import subjects
from mrrrme.contracts import AccountEvent, ContractError, HealthReport, decode, encode
from mrrrme.erasure import erase_session_state
from mrrrme.runtime import connect_nats, sync_with_server
from mrrrme.store import Database, privacy
from mrrrme.streams import ensure_streams

log = logging.getLogger("gateway")
STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    # Everything the page loads comes from this origin: no CDN, no inline script, no framing.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
}


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
    sessions: dict[str, ClientSession] = field(default_factory=dict)
    _directory: tuple[float, list[HealthReport]] = (0.0, [])

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
        asyncio.get_running_loop().call_later(
            3.0, lambda: asyncio.ensure_future(erase_session_state(self.redis, self.js, session_ids))
        )
        log.info("erased an account and %d sessions", len(session_ids))

    async def directory(self, max_age_s: float = 2.0) -> list[HealthReport]:
        """Service replicas and their readiness, cached briefly so /health cannot be used to flood NATS."""
        taken, reports = self._directory
        if time.monotonic() - taken > max_age_s:
            reports = await discover(self.nc, self.settings.health_timeout_s)
            self._directory = (time.monotonic(), reports)
        return reports

    async def service_ready(self, service: str) -> bool:
        return any(r.service == service and r.ready for r in await self.directory())


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vad = SileroVad()
        vad.stream().probability(__import__("numpy").zeros(CHUNK, dtype="float32"))  # warm-up
        nc = await connect_nats(settings, "gateway")
        js = nc.jetstream()
        await ensure_streams(js)
        redis = Redis.from_url(settings.redis_url)
        await redis.ping()
        db = Database(settings.database_url)
        if settings.migrate_on_start:
            await db.migrate()
        accounts = Accounts(
            db,
            idle_timeout=dt.timedelta(seconds=settings.login_idle_timeout_s),
            absolute_lifetime=dt.timedelta(seconds=settings.login_lifetime_s),
        )
        throttle = LoginThrottle(
            redis,
            ThrottlePolicy(
                per_ip_per_min=settings.login_per_ip_per_min,
                per_account_per_hour=settings.login_failures_per_hour,
                free_failures=settings.login_free_failures,
            ),
        )
        state = GatewayState(settings, nc, js, redis, db, accounts, throttle, vad, metrics)
        await nc.subscribe(subjects.ACCOUNT_EVENTS, cb=state.on_account_event)
        await sync_with_server(nc)  # a logout announced by another replica from now on reaches us
        app.state.gateway = state
        log.info("gateway ready on http://%s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            for session in list(state.sessions.values()):
                session.close_soon(CLOSE_GOING_AWAY, "server shutting down")
            await asyncio.sleep(0.1)
            with contextlib.suppress(Exception):
                await nc.drain()
            await redis.aclose()
            await db.aclose()

    app = FastAPI(title="MrrrMe gateway", version="0.2.0", lifespan=lifespan)
    app.include_router(account_routes.router)
    app.include_router(history.router)
    app.include_router(history.debug)

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        state: GatewayState = ws.app.state.gateway
        origin = ws.headers.get("origin")
        if origin is None or origin.rstrip("/") not in settings.origins():
            # Closing before accept answers the handshake with HTTP 403: nothing is processed.
            state.metrics.rejected_handshakes.labels("origin").inc()
            await ws.close(code=CLOSE_POLICY)
            return
        await ws.accept()
        await ClientSession(ws, state, cookie_token=ws.cookies.get(account_routes.COOKIE, "")).run()

    @app.get("/health")
    async def health() -> JSONResponse:
        """Gateway readiness plus every service replica's, as they answer a health ping."""
        state: GatewayState = app.state.gateway
        nats_ok = state.nc.is_connected
        try:
            redis_ok = bool(await asyncio.wait_for(state.redis.ping(), 1.0))
        except Exception:
            redis_ok = False
        reports = await state.directory(max_age_s=0.0) if nats_ok else []
        ok = nats_ok and redis_ok
        body = {
            "status": "ok" if ok else "degraded",
            "gateway": {"ready": ok, "nats": nats_ok, "redis": redis_ok, "sessions": len(state.sessions)},
            "services": summarise(reports),
        }
        return JSONResponse(body, status_code=200 if ok else 503)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        if not (STATIC / "app" / "main.js").exists():
            log.warning("the web client is not built: run `make web` (make run does it)")
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    return app
