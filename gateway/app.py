"""The gateway: FastAPI app with the /ws socket, /health, /metrics, the dev login and the web client."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException, WebSocket
from fastapi.responses import FileResponse, JSONResponse, Response
from nats.aio.client import Client as NATS
from nats.js import JetStreamContext
from prometheus_client import generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from pydantic import BaseModel, Field
from redis.asyncio import Redis

from gateway.auth import DevTokenStore, TokenVerifier
from gateway.directory import discover, summarise
from gateway.metrics import GatewayMetrics
from gateway.session import CLOSE_GOING_AWAY, CLOSE_POLICY, ClientSession
from gateway.settings import GatewaySettings
from gateway.vad import CHUNK, SileroVad
from mrrrme.contracts import HealthReport
from mrrrme.runtime import connect_nats
from mrrrme.streams import ensure_streams

log = logging.getLogger("gateway")
STATIC = Path(__file__).parent / "static"


@dataclass
class GatewayState:
    settings: GatewaySettings
    nc: NATS
    js: JetStreamContext
    redis: Redis
    verifier: TokenVerifier
    dev_tokens: DevTokenStore | None
    vad: SileroVad
    metrics: GatewayMetrics
    sessions: dict[str, ClientSession] = field(default_factory=dict)
    _directory: tuple[float, list[HealthReport]] = (0.0, [])

    async def directory(self, max_age_s: float = 2.0) -> list[HealthReport]:
        """Service replicas and their readiness, cached briefly so /health cannot be used to flood NATS."""
        taken, reports = self._directory
        if time.monotonic() - taken > max_age_s:
            reports = await discover(self.nc, self.settings.health_timeout_s)
            self._directory = (time.monotonic(), reports)
        return reports

    async def service_ready(self, service: str) -> bool:
        return any(r.service == service and r.ready for r in await self.directory())


class DevLoginRequest(BaseModel):
    username: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")


class DevLoginResponse(BaseModel):
    token: str
    username: str


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
        dev_tokens = DevTokenStore(redis) if settings.dev_login else None
        verifier: TokenVerifier = dev_tokens or _NoLogin()
        app.state.gateway = GatewayState(settings, nc, js, redis, verifier, dev_tokens, vad, metrics)
        log.info("gateway ready on http://%s:%d", settings.host, settings.port)
        try:
            yield
        finally:
            state: GatewayState = app.state.gateway
            for session in list(state.sessions.values()):
                session.close_soon(CLOSE_GOING_AWAY, "server shutting down")
            await asyncio.sleep(0.1)
            with contextlib.suppress(Exception):
                await nc.drain()
            await redis.aclose()

    app = FastAPI(title="MrrrMe gateway", version="0.1.0", lifespan=lifespan)

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
        await ClientSession(ws, state).run()

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

    @app.post("/api/dev/login", response_model=DevLoginResponse)
    async def dev_login(body: DevLoginRequest) -> DevLoginResponse:
        """Development login: a token for any username, no password.

        Off when MRRRME_GATEWAY_DEV_LOGIN=false; the accounts issue replaces it.
        """
        state: GatewayState = app.state.gateway
        if state.dev_tokens is None:
            raise HTTPException(status_code=404, detail="dev login is disabled")
        return DevLoginResponse(token=await state.dev_tokens.issue(body.username), username=body.username)

    @app.get("/", include_in_schema=False)
    async def index() -> FileResponse:
        return FileResponse(STATIC / "index.html")

    return app


class _NoLogin:
    """With the dev login off and no accounts yet, nobody can authenticate: fail closed."""

    async def verify(self, token: str) -> None:
        return None
