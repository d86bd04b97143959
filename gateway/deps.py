"""Typed FastAPI dependencies of the gateway's routes: the shared state and who is calling.

A route names what it needs in its signature (`state: StateDep`, `identity: CurrentUser`) instead of
reaching into `request.app.state` by hand: the type checker sees a `GatewayState`, and the OpenAPI
schema lists the login schemes wherever a login is required.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from gateway.accounts.service import Identity
from gateway.problems import ApiProblem
from gateway.state import GatewayState

COOKIE = "mrrrme_session"
bearer = HTTPBearer(auto_error=False, description="The token from /api/signup or /api/login")
cookie = APIKeyCookie(name=COOKIE, auto_error=False, description="Set by /api/signup and /api/login")


def gateway_state(conn: HTTPConnection) -> GatewayState:
    """The state the app's lifespan built (gateway/app.py); for HTTP routes and the WebSocket alike."""
    return conn.app.state.gateway  # type: ignore[no-any-return]


StateDep = Annotated[GatewayState, Depends(gateway_state)]


def not_logged_in() -> ApiProblem:
    return ApiProblem(
        401, "not_authenticated", "you are not logged in, or your login ended", {"WWW-Authenticate": "Bearer"}
    )


def presented_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    session_cookie: Annotated[str | None, Depends(cookie)],
) -> str:
    """The bearer token if there is one, else the login cookie's; "" when neither came."""
    if credentials is not None:
        return credentials.credentials
    return session_cookie or ""


Token = Annotated[str, Depends(presented_token)]


async def current_identity(state: StateDep, token: Token) -> Identity:
    identity = await state.accounts.verify(token) if token else None
    if identity is None:
        raise not_logged_in()
    return identity


CurrentUser = Annotated[Identity, Depends(current_identity)]


async def admin_identity(identity: CurrentUser) -> Identity:
    if identity.role != "admin":
        raise ApiProblem(403, "admin_only", "only an administrator can see this")
    return identity


AdminUser = Annotated[Identity, Depends(admin_identity)]
