"""REST for accounts and privacy: sign-up, login, logout, me, consent, export and erasure.

A client authenticates with `Authorization: Bearer <token>` or the HttpOnly `mrrrme_session` cookie that
login sets (the web client uses the cookie, so page scripts never see the token).
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from gateway.accounts.service import AccountError, Identity
from gateway.accounts.throttle import Throttled
from gateway.deps import COOKIE, CurrentUser, StateDep, Token, not_logged_in
from gateway.problems import Problem, problem
from gateway.state import GatewayState
from mrrrme.contracts import AccountEvent
from mrrrme.store import privacy, records

router = APIRouter(prefix="/api", tags=["accounts"])


ERRORS: dict[int | str, dict[str, object]] = {
    401: {"model": Problem, "description": "Not logged in, or the login ended"},
}


class Credentials(BaseModel):
    username: str = Field(min_length=1, max_length=64, examples=["alice"])
    password: str = Field(min_length=1, max_length=1024, description="8 or more characters; 15+ recommended")


class UserOut(BaseModel):
    id: str
    username: str
    role: str


class LoginOut(BaseModel):
    token: str = Field(description="Send as `Authorization: Bearer <token>`; also set as an HttpOnly cookie")
    expires_at: dt.datetime = Field(description="Absolute end of this login (it also ends after idle time)")
    user: UserOut


class Consent(BaseModel):
    camera: bool = Field(description="Camera frames may be analysed for facial emotion")
    microphone: bool = Field(description="Microphone audio may be transcribed and analysed for vocal emotion")


class MeOut(UserOut):
    created_at: dt.datetime
    consent: Consent


def _problem(exc: AccountError) -> JSONResponse:
    return problem(exc.status, exc.code, exc.message)


def _throttled(exc: Throttled) -> JSONResponse:
    return problem(429, "throttled", str(exc), headers={"Retry-After": str(int(exc.retry_after_s + 0.999))})


def _logged_in(
    request: Request, state: GatewayState, identity: Identity, token: str, expires_at: dt.datetime, status: int
) -> Response:
    body = LoginOut(
        token=token,
        expires_at=expires_at,
        user=UserOut(id=identity.user_id, username=identity.username, role=identity.role),
    )
    response = JSONResponse(body.model_dump(mode="json"), status_code=status)
    response.set_cookie(
        COOKIE,
        token,
        max_age=int((expires_at - dt.datetime.now(dt.UTC)).total_seconds()),
        httponly=True,
        samesite="strict",
        # Secure whenever the request came over HTTPS (the scheme, or X-Forwarded-Proto from a trusted proxy).
        secure=state.settings.cookie_secure or request.url.scheme == "https",
        path="/",
    )
    return response


THROTTLED: dict[int | str, dict[str, object]] = {429: {"model": Problem, "description": "Too many attempts"}}


@router.post(
    "/signup",
    status_code=201,
    response_model=LoginOut,
    responses={400: {"model": Problem}, 409: {"model": Problem}, **THROTTLED},
)
async def signup(body: Credentials, request: Request, state: StateDep) -> Response:
    """Create an account and log in."""
    try:
        await state.throttle.check_address(_address(request))
        login = await state.accounts.signup(body.username, body.password)
    except Throttled as exc:
        return _throttled(exc)
    except AccountError as exc:
        return _problem(exc)
    return _logged_in(request, state, login.identity, login.token, login.expires_at, 201)


@router.post("/login", response_model=LoginOut, responses={401: {"model": Problem}, **THROTTLED})
async def login(body: Credentials, request: Request, state: StateDep) -> Response:
    """Log in. An unknown user and a wrong password get the same answer."""
    try:
        await state.throttle.check_address(_address(request))
        await state.throttle.check_account(body.username)
    except Throttled as exc:
        return _throttled(exc)
    try:
        result = await state.accounts.login(body.username, body.password)
    except AccountError as exc:
        await state.throttle.failed(body.username)
        return _problem(exc)
    await state.throttle.succeeded(body.username)
    return _logged_in(request, state, result.identity, result.token, result.expires_at, 200)


@router.post("/logout", status_code=204, responses=ERRORS)
async def logout(state: StateDep, token: Token) -> Response:
    """End this login; its open WebSockets close within a second."""
    identity = await state.accounts.logout(token) if token else None
    if identity is None:
        raise not_logged_in()
    await state.announce(AccountEvent(user_id=identity.user_id, action="logout", login_id=identity.login_id))
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


class SessionOut(BaseModel):
    authenticated: bool
    user: UserOut | None = None


@router.get("/session", response_model=SessionOut)
async def session(request: Request, state: StateDep) -> SessionOut:
    """Whether this request carries a live login: always 200, so that a page asking at load time (before
    anyone logged in) logs no error. The token stays HttpOnly: the answer never contains it."""
    header = request.headers.get("authorization", "")
    token = header[7:].strip() if header[:7].lower() == "bearer " else request.cookies.get(COOKIE, "")
    identity = await state.accounts.verify(token) if token else None
    if identity is None:
        return SessionOut(authenticated=False)
    user = UserOut(id=identity.user_id, username=identity.username, role=identity.role)
    return SessionOut(authenticated=True, user=user)


@router.get("/me", response_model=MeOut, responses=ERRORS)
async def me(identity: CurrentUser, state: StateDep) -> MeOut:
    async with state.db.session() as db:
        consent = await records.current_consent(db, identity.user_id)
    user = await state.accounts.user(identity.user_id)
    if user is None:
        raise not_logged_in()
    return MeOut(
        id=user.id, username=user.username, role=user.role, created_at=user.created_at, consent=Consent(**consent)
    )


@router.delete("/me", status_code=204, responses=ERRORS)
async def delete_me(identity: CurrentUser, state: StateDep) -> Response:
    """Erase the account and everything about it: rows, session state in Redis, pending work. Every login
    and socket of the account ends."""
    await state.erase_user(identity)
    response = Response(status_code=204)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/consent", response_model=Consent, responses=ERRORS)
async def get_consent(identity: CurrentUser, state: StateDep) -> Consent:
    async with state.db.session() as db:
        return Consent(**await records.current_consent(db, identity.user_id))


@router.put("/consent", response_model=Consent, responses=ERRORS)
async def put_consent(body: Consent, identity: CurrentUser, state: StateDep) -> Consent:
    """Record consent per device; open sockets apply it within a second (withdrawn: nothing more is processed)."""
    async with state.db.session() as db:
        await records.record_consent(db, identity.user_id, body.model_dump(), dt.datetime.now(dt.UTC))
    await state.announce(
        AccountEvent(user_id=identity.user_id, action="consent", camera=body.camera, microphone=body.microphone)
    )
    return body


@router.get(
    "/export",
    responses={**ERRORS, 200: {"content": {"application/json": {}, "application/zip": {}}}},
    response_class=Response,
)
async def export(
    identity: CurrentUser,
    state: StateDep,
    format: Annotated[Literal["json", "csv"], Query(description="json: one document; csv: a zip of CSVs")] = "json",
) -> Response:
    """Everything stored about you: every table with your user key (password and token hashes left out)."""
    now = dt.datetime.now(dt.UTC)
    async with state.db.session() as db:
        tables = await privacy.export(db, identity.user_id)
    stamp = now.strftime("%Y%m%dT%H%M%SZ")
    if format == "csv":
        return Response(
            privacy.export_csv_zip(tables),
            media_type="application/zip",
            headers={"Content-Disposition": f'attachment; filename="mrrrme-export-{stamp}.zip"'},
        )
    return Response(
        privacy.export_json(tables, now),
        media_type="application/json",
        headers={"Content-Disposition": f'attachment; filename="mrrrme-export-{stamp}.json"'},
    )


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"
