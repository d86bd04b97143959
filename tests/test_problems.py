"""One error shape for the whole REST API (RFC 9457 problem details), over the real gateway, and the
login-state route that answers 200 whether or not anyone is logged in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from mrrrme.contracts import new_id
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import PASSWORD
from tests.conftest import APPS, gateway_settings, running_gateway


@pytest.fixture()
async def gw(nats_server: NatsServer, redis_server: RedisServer) -> AsyncIterator[str]:
    settings = gateway_settings(nats_server, redis_server, login_free_failures=1)
    async with running_gateway(settings) as base:
        yield base


def assert_problem(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"] == "application/problem+json", answer.headers
    body: dict[str, Any] = answer.json()
    assert {"type", "title", "status", "detail", "code"} <= body.keys(), body
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] == f"urn:mrrrme:problem:{code}"
    # A sentence a person can read: capitalised, ends with a full stop, no JSON in it.
    assert body["detail"][0].isupper() and body["detail"].endswith("."), body
    assert "{" not in body["detail"] and "[" not in body["detail"], body
    return body


async def test_every_kind_of_error_is_a_problem_document(gw: str) -> None:
    name = f"user-{new_id()[:10]}"
    async with httpx.AsyncClient(base_url=gw) as http:
        weak = await http.post("/api/signup", json={"username": name, "password": "letmein1"})
        assert "common" in assert_problem(weak, 400, "weak_password")["detail"]

        assert_problem(await http.get("/api/me"), 401, "not_authenticated")
        assert (await http.get("/api/me")).headers["www-authenticate"] == "Bearer"

        missing = await http.post("/api/signup", json={"username": name})
        body = assert_problem(missing, 422, "invalid_request")
        assert body["errors"] == [{"field": "body.password", "message": "Field required"}], body
        assert body["detail"].startswith("Password: "), body

        limit = await http.get("/api/timeline?limit=0", headers={"Authorization": "Bearer nope"})
        assert limit.status_code in (401, 422)  # either refusal, but never another shape
        assert_problem(limit, limit.status_code, "not_authenticated" if limit.status_code == 401 else "invalid_request")

        token = (await http.post("/api/signup", json={"username": name, "password": PASSWORD})).json()["token"]
        http.cookies.clear()
        taken = await http.post("/api/signup", json={"username": name, "password": PASSWORD})
        assert_problem(taken, 409, "username_taken")
        forbidden = await http.get("/api/debug/users", headers={"Authorization": f"Bearer {token}"})
        assert_problem(forbidden, 403, "admin_only")
        assert_problem(await http.get("/api/nothing-here"), 404, "not_found")

        wrong = await http.post("/api/login", json={"username": name, "password": "not the password"})
        assert_problem(wrong, 401, "invalid_credentials")
        throttled = await http.post("/api/login", json={"username": name, "password": "not the password"})
        assert_problem(throttled, 429, "throttled")
        assert int(throttled.headers["retry-after"]) >= 1


async def test_the_schema_documents_problem_json_for_every_error(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        schema = (await http.get("/openapi.json")).json()
    assert "Problem" in schema["components"]["schemas"]
    errors = 0
    for path, operations in schema["paths"].items():
        for method, operation in operations.items():
            for status, answer in operation["responses"].items():
                if status.startswith(("4", "5")):
                    errors += 1
                    assert list(answer["content"]) == ["application/problem+json"], (method, path, status)
    assert errors > 10


async def test_the_login_state_is_a_200_whether_or_not_logged_in(gw: str) -> None:
    async with httpx.AsyncClient(base_url=gw) as http:
        anonymous = await http.get("/api/session")
        assert anonymous.status_code == 200 and anonymous.json() == {"authenticated": False, "user": None}
        name = f"user-{new_id()[:10]}"
        created = await http.post("/api/signup", json={"username": name, "password": PASSWORD})
        assert created.status_code == 201
        # The cookie the signup set is what the browser sends; the answer never contains the token.
        mine = await http.get("/api/session")
        assert mine.status_code == 200 and mine.json()["authenticated"] is True
        assert mine.json()["user"]["username"] == name and created.json()["token"] not in mine.text
        http.cookies.clear()
        bearer = await http.get("/api/session", headers={"Authorization": f"Bearer {created.json()['token']}"})
        assert bearer.json()["authenticated"] is True
        await http.post("/api/logout", headers={"Authorization": f"Bearer {created.json()['token']}"})
        ended = await http.get("/api/session", headers={"Authorization": f"Bearer {created.json()['token']}"})
        assert ended.status_code == 200 and ended.json()["authenticated"] is False
    assert APPS  # the gateway under test was the real app
