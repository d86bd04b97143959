"""The gateway: FastAPI app with the /ws socket, accounts and history REST, /health, /metrics and the web client."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import math
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, WebSocket
from fastapi.responses import FileResponse, JSONResponse, PlainTextResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from gateway import docs, history, problems, reply_audio
from gateway.accounts import routes as account_routes
from gateway.accounts.service import Accounts
from gateway.accounts.throttle import LoginThrottle, ThrottlePolicy
from gateway.deps import COOKIE, StateDep
from gateway.directory import summarise
from gateway.metrics import GatewayMetrics, HttpMetrics
from gateway.protocol import CLOSE_GOING_AWAY, CLOSE_POLICY
from gateway.ratelimit import AddressWindow
from gateway.session import ClientSession
from gateway.settings import GatewaySettings
from gateway.state import GatewayState
from gateway.turn import TurnModel
from gateway.vad import CHUNK, SileroVad
from mrrrme import subjects
from mrrrme.redis_client import redis_client
from mrrrme.runtime import connect_nats, sync_with_server
from mrrrme.store import Database
from mrrrme.streams import ensure_streams

log = logging.getLogger("gateway")
STATIC = Path(__file__).parent / "static"
PAGE_HEADERS = {
    # Everything the page loads comes from this origin: no CDN, no inline script, no framing. `blob:` (URLs
    # the page itself makes) lets three.js read the textures inside a person's own avatar file.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
        "connect-src 'self' blob:; media-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(self), microphone=(self), geolocation=()",
}


async def _is_admin(state: GatewayState, request: Request) -> bool:
    """Whether the request carries a live login (bearer token or cookie) of an admin."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        token = request.cookies.get(COOKIE, "")
    if not token:
        return False
    identity = await state.accounts.verify(token.strip())
    return identity is not None and identity.role == "admin"


def create_app(settings: GatewaySettings | None = None) -> FastAPI:
    settings = settings or GatewaySettings()
    metrics = GatewayMetrics()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        vad = SileroVad()
        vad.stream().probability(__import__("numpy").zeros(CHUNK, dtype="float32"))  # warm-up
        nc = await connect_nats(settings, "gateway")
        js = nc.jetstream()
        await ensure_streams(js, settings.stream_replicas)
        redis = redis_client(settings.redis_url)
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
        turn = None
        if settings.end_of_turn == "model":  # loaded and warmed here, not by the first session on the event loop
            turn = await asyncio.to_thread(TurnModel)
            await asyncio.to_thread(turn.warm_up)
        state = GatewayState(settings, nc, js, redis, db, accounts, throttle, vad, metrics, turn)
        state.handshakes = AddressWindow(settings.ws_handshakes_per_ip_per_min)
        state.reply_audio = reply_audio.ReplyAudioStore.from_settings(settings)
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
            if turn is not None:
                turn.close()

    # /docs is served from packaged files (gateway/docs.py), not FastAPI's CDN page; no ReDoc (CDN only).
    app = FastAPI(title="MrrrMe gateway", version="0.2.0", lifespan=lifespan, docs_url=None, redoc_url=None)
    docs.install(app)
    problems.install(app)  # every REST error as RFC 9457 problem details
    app.add_middleware(HttpMetrics, metrics=metrics)  # requests by route template, status and latency
    app.include_router(account_routes.router)
    app.include_router(history.router)
    app.include_router(history.debug)
    reply_audio.install(app)  # GET /api/reply-audio/<token>.wav: the seed client's audio_url

    @app.websocket("/ws")
    async def websocket(ws: WebSocket, state: StateDep) -> None:
        address = ws.client.host if ws.client else "unknown"  # the proxy's client only from trusted proxies
        retry_after = state.handshakes.allow(address)
        if retry_after:
            # Refused before accept with an HTTP answer that says when to come back (TARGETS W6).
            state.metrics.rejected_handshakes.labels("rate").inc()
            await ws.send_denial_response(
                PlainTextResponse(
                    "too many WebSocket handshakes from this address\n",
                    status_code=429,
                    headers={"Retry-After": str(math.ceil(retry_after))},
                )
            )
            return
        origin = ws.headers.get("origin")
        if origin is None or origin.rstrip("/") not in settings.origins():
            # Closing before accept answers the handshake with HTTP 403: nothing is processed.
            state.metrics.rejected_handshakes.labels("origin").inc()
            await ws.close(code=CLOSE_POLICY)
            return
        await ws.accept()
        await ClientSession(ws, state, cookie_token=ws.cookies.get(COOKIE, "")).run()

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        """Liveness: 200 while the process serves HTTP. It touches neither NATS nor Redis, so a broker outage
        makes the gateway unready (/health) without getting it restarted."""
        return {"status": "alive"}

    @app.get("/health")
    async def health(request: Request, state: StateDep) -> JSONResponse:
        """Gateway readiness and how many replicas of each service are ready; with an admin's login,
        every replica's detail and this replica's session count as well."""
        nats_ok = state.nc.is_connected
        try:
            redis_ok = bool(await asyncio.wait_for(state.redis.ping(), 1.0))
        except Exception:
            redis_ok = False
        reports = await state.directory(max_age_s=0.0) if nats_ok else []
        ok = nats_ok and redis_ok
        services = summarise(reports)
        body: dict[str, Any] = {"status": "ok" if ok else "degraded"}
        if await _is_admin(state, request):
            body["gateway"] = {"ready": ok, "nats": nats_ok, "redis": redis_ok, "sessions": len(state.sessions)}
            body["services"] = services
        else:
            # Anyone may ask (probes, `make run`): readiness counts only, never host names, pids or sessions.
            body["services"] = {
                name: {"replicas": entry["replicas"], "ready": entry["ready"]} for name, entry in services.items()
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
