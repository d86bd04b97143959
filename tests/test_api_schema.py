"""schemathesis against the gateway's OpenAPI schema (TARGETS.md A7): generated requests, with and without a
valid login, get no server error, answers that match the schema, and nothing protected answers without
authentication.

The gateway runs as its own process here: schemathesis calls it synchronously from the test thread.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import settings
from schemathesis.checks import ignored_auth, not_a_server_error, response_schema_conformance

from mrrrme.stack.infra import NatsServer, RedisServer, free_port
from tests.accounts import PASSWORD
from tests.conftest import Worker


@pytest.fixture(scope="module")
def gateway_process(nats_server: NatsServer, redis_server: RedisServer) -> Iterator[str]:
    port = free_port()
    worker = Worker(
        "gateway",
        {
            "NATS_URL": nats_server.url,
            "REDIS_URL": redis_server.url,
            "DATABASE_URL": f"sqlite:///{tempfile.mkdtemp(prefix='mrrrme-st-')}/mrrrme.db",
            "MRRRME_GATEWAY_PORT": str(port),
            "MRRRME_GATEWAY_LOGIN_PER_IP_PER_MIN": "1000000",
            "MRRRME_LOG_LEVEL": "WARNING",
        },
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(url + "/openapi.json").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        else:
            raise AssertionError(f"gateway did not start:\n{worker.output()}")
        yield url
        assert "Traceback" not in worker.output(), worker.output()
    finally:
        worker.close()


@pytest.fixture()
def api_schema(gateway_process: str) -> Any:
    answer = httpx.post(gateway_process + "/api/signup", json={"username": "fuzzer", "password": PASSWORD})
    if answer.status_code == 409:
        answer = httpx.post(gateway_process + "/api/login", json={"username": "fuzzer", "password": PASSWORD})
    token = answer.json()["token"]
    schema = schemathesis.openapi.from_url(gateway_process + "/openapi.json")
    schema.config.update(headers={"Authorization": f"Bearer {token}"})
    schema.config.generation.update(database="none")
    return schema


# Logout and account deletion would end the login every other generated request uses: they have their
# own tests (tests/test_accounts.py, tests/test_memory.py).
schema = (
    schemathesis.pytest.from_fixture("api_schema")
    .exclude(method="DELETE", path="/api/me")
    .exclude(method="POST", path="/api/logout")
)


@schema.parametrize()
@settings(max_examples=30)
def test_generated_requests_get_no_server_error_and_match_the_schema(case: Any) -> None:
    case.call_and_validate(checks=[not_a_server_error, response_schema_conformance, ignored_auth])
