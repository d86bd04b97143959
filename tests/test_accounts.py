"""Accounts over the real gateway (REST + WebSocket), real Redis, SQLite and PostgreSQL (TARGETS.md A1-A6, W5)."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select

from gateway.accounts.passwords import MAX_BYTES, PolicyError, check_policy
from mrrrme.contracts import new_id
from mrrrme.stack.infra import NatsServer, RedisServer
from mrrrme.store import Database
from mrrrme.store.schema import LoginSession, User
from tests.accounts import PASSWORD
from tests.conftest import APPS, empty_database, gateway_settings, running_gateway

ORIGIN = {"origin": ""}


@pytest.fixture(params=["sqlite", "postgresql"])
async def gw(request: pytest.FixtureRequest, nats_server: NatsServer, redis_server: RedisServer, tmp_path: Any
             ) -> AsyncIterator[str]:  # fmt: skip
    async with empty_database(request.param, tmp_path) as url:
        settings = gateway_settings(nats_server, redis_server, database_url=url, token_recheck_s=0.2)
        async with running_gateway(settings) as base:
            yield base


def fresh_name() -> str:
    return f"user-{new_id()[:10]}"


async def signup(http: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    """Sign up and forget the cookie: each test says how it authenticates."""
    answer = await http.post("/api/signup", json={"username": name, "password": password})
    http.cookies.clear()
    return answer


async def open_socket(base: str, token: str) -> Any:
    ws = await websockets.connect(base.replace("http", "ws") + "/ws", origin=base)  # type: ignore[arg-type]
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await ws.recv())
    assert ready["type"] == "ready", ready
    return ws


async def closed_code(ws: Any, within: float) -> int:
    started = time.monotonic()
    with pytest.raises(websockets.ConnectionClosed):
        while True:
            await asyncio.wait_for(ws.recv(), within - (time.monotonic() - started))
    assert time.monotonic() - started <= within
    return int(ws.close_code)


async def test_signup_login_me_logout_and_the_token_is_refused_after(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        name = fresh_name()
        created = await signup(http, name.upper())
        assert created.status_code == 201, created.text
        token = created.json()["token"]
        assert len(token) >= 43  # 32 random bytes, url-safe base64
        cookie = created.headers["set-cookie"].lower()
        assert "httponly" in cookie and "samesite=strict" in cookie
        assert (await signup(http, name)).status_code == 409  # names are case-insensitive

        login = await http.post("/api/login", json={"username": name, "password": PASSWORD})
        assert login.status_code == 200 and login.json()["token"] != token  # a fresh token per login
        token2 = login.json()["token"]
        me = await http.get("/api/me", headers={"Authorization": f"Bearer {token2}"})
        assert me.status_code == 200 and me.json()["username"] == name
        assert me.json()["consent"] == {"camera": False, "microphone": False}

        # The browser way: the HttpOnly cookie alone authenticates.
        http.cookies.set("mrrrme_session", token)
        assert (await http.get("/api/me")).status_code == 200
        http.cookies.clear()

        first_socket, second_socket = await open_socket(gw, token), await open_socket(gw, token2)
        assert (await http.post("/api/logout", headers={"Authorization": f"Bearer {token}"})).status_code == 204
        assert await closed_code(first_socket, 1.0) == 4001  # that login's socket closes within a second
        assert (await http.get("/api/me", headers={"Authorization": f"Bearer {token}"})).status_code == 401
        ws = await websockets.connect(gw.replace("http", "ws") + "/ws", origin=gw)  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": token}))
        assert json.loads(await ws.recv())["code"] == "invalid_token"
        assert await closed_code(ws, 2.0) == 4001
        # The other login of the same user is untouched.
        await second_socket.send(json.dumps({"type": "ping"}))
        assert json.loads(await second_socket.recv())["type"] == "pong"
        await second_socket.close()


async def test_what_the_database_holds_is_an_argon2id_hash_and_a_token_digest(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        name = fresh_name()
        token = (await signup(http, name)).json()["token"]
    database: Database = APPS[gw].state.gateway.db
    async with database.session() as db:
        user = await db.scalar(select(User).where(User.username == name))
        assert user is not None
        assert re.match(r"^\$argon2id\$v=19\$m=19456,t=3,p=1\$", user.password_hash)
        logins = (await db.scalars(select(LoginSession).where(LoginSession.user_id == user.id))).all()
    assert [login.token_hash for login in logins] == [hashlib.sha256(token.encode()).hexdigest()]


async def test_unknown_user_and_wrong_password_get_the_same_answer(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        name = fresh_name()
        await signup(http, name)
        wrong = await http.post("/api/login", json={"username": name, "password": "not the password at all"})
        unknown = await http.post("/api/login", json={"username": fresh_name(), "password": "not the password"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.content == unknown.content
    assert dict(wrong.headers).keys() == dict(unknown.headers).keys()


async def test_password_policy() -> None:
    for bad in ("short12", "password", "qwertyuiop", "1234567890", "x" * 200 + "é" * 500):
        with pytest.raises(PolicyError):
            check_policy(bad)
    for good in ("eight ch", "violet-otter-cobalt", "x" * 64, "y" * 128, "z" * MAX_BYTES):
        check_policy(good)
    with pytest.raises(PolicyError):
        check_policy("same-as-the-name", "Same-As-The-Name")


async def test_signup_refuses_a_weak_password_with_the_reason(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        answer = await signup(http, fresh_name(), "letmein1")
    assert answer.status_code == 400 and "common" in answer.json()["detail"]


async def test_repeated_wrong_passwords_are_throttled_for_known_and_unknown_names(
    nats_server: NatsServer, redis_server: RedisServer
) -> None:
    settings = gateway_settings(nats_server, redis_server, login_free_failures=3)
    async with running_gateway(settings) as base, httpx.AsyncClient(base_url=base) as http:
        name = fresh_name()
        await signup(http, name)
        answers: dict[str, list[int]] = {}
        for who in (name, fresh_name()):
            answers[who] = []
            for _ in range(5):
                r = await http.post("/api/login", json={"username": who, "password": "wrong password!"})
                answers[who].append(r.status_code)
                if r.status_code == 429:
                    assert int(r.headers["retry-after"]) >= 1
        # Three free failures, then each attempt must wait (known and unknown names alike).
        assert list(answers.values()) == [[401, 401, 401, 429, 429]] * 2
        # The right password during the back-off is refused too: the throttle comes before the check.
        r = await http.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status_code == 429


async def test_logins_per_address_are_limited(nats_server: NatsServer, redis_server: RedisServer) -> None:
    settings = gateway_settings(nats_server, redis_server, login_per_ip_per_min=5)
    async with running_gateway(settings) as base, httpx.AsyncClient(base_url=base) as http:
        await APPS[base].state.gateway.redis.delete("mrrrme:throttle:ip:127.0.0.1")
        codes = [
            (await http.post("/api/login", json={"username": fresh_name(), "password": "whatever!"})).status_code
            for _ in range(7)
        ]
        await APPS[base].state.gateway.redis.delete("mrrrme:throttle:ip:127.0.0.1")
    assert codes == [401] * 5 + [429] * 2


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_idle_and_absolute_expiry_with_a_controlled_clock(gw: str) -> None:
    clock = Clock()
    accounts = APPS[gw].state.gateway.accounts
    accounts.clock = clock
    async with httpx.AsyncClient(base_url=gw) as http:
        token = (await signup(http, fresh_name())).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        socket = await open_socket(gw, token)
        # Used every 20 minutes: the 30-minute idle timeout never strikes...
        for _ in range(3):
            clock.now += dt.timedelta(minutes=20)
            assert (await http.get("/api/me", headers=auth)).status_code == 200
        # ...but 31 minutes without use ends the login, and the open socket closes at its next check.
        clock.now += dt.timedelta(minutes=31)
        assert (await http.get("/api/me", headers=auth)).status_code == 401
        assert await closed_code(socket, 2.0) == 4001

        token = (await signup(http, fresh_name())).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        for _ in range(95):  # 23 h 45 min of steady use
            clock.now += dt.timedelta(minutes=15)
            assert (await http.get("/api/me", headers=auth)).status_code == 200
        clock.now += dt.timedelta(minutes=16)  # past 24 h since login: over, however busy
        assert (await http.get("/api/me", headers=auth)).status_code == 401


async def test_debug_views_exist_only_for_an_admin(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        name = fresh_name()
        token = (await signup(http, name)).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.get("/api/debug/users")).status_code == 401
        assert (await http.get("/api/debug/users", headers=auth)).status_code == 403
        database: Database = APPS[gw].state.gateway.db
        async with database.session() as db:
            user = await db.scalar(select(User).where(User.username == name))
            assert user is not None
            user.role = "admin"
        users = await http.get("/api/debug/users", headers=auth)
        assert users.status_code == 200 and name in {u["username"] for u in users.json()}
        assert (await http.get("/api/debug/sessions", headers=auth)).status_code == 200


async def test_a_browser_socket_authenticates_with_the_login_cookie(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        token = (await signup(http, fresh_name())).json()["token"]
    url = gw.replace("http", "ws") + "/ws"
    headers = {"Cookie": f"mrrrme_session={token}"}
    async with websockets.connect(url, origin=gw, additional_headers=headers) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": ""}))
        assert json.loads(await ws.recv())["type"] == "ready"
    async with websockets.connect(url, origin=gw) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "auth", "token": ""}))  # no cookie, no token: refused
        assert json.loads(await ws.recv())["code"] == "invalid_token"
