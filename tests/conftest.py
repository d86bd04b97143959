"""Real infrastructure for the tests: a private nats-server (JetStream) and redis-server on free ports.

Nothing here is mocked: the same `mrrrme.stack.infra` code that `make run` uses starts the servers.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any, Protocol

import nats
import pytest
import uvicorn
from nats.aio.client import Client as NATS

from gateway.server import server_config
from gateway.settings import GatewaySettings
from mrrrme.stack.infra import NatsServer, RedisServer, free_port

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def nats_server() -> Iterator[NatsServer]:
    with NatsServer() as server:
        yield server


@pytest.fixture()
def own_nats_server() -> Iterator[NatsServer]:
    """A private broker for tests that kill or fill it."""
    with NatsServer() as server:
        yield server


@pytest.fixture()
async def own_nc(own_nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(own_nats_server.url)
    yield client
    await client.drain()


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with RedisServer() as server:
        yield server


@pytest.fixture()
async def nc(nats_server: NatsServer) -> AsyncIterator[NATS]:
    client = await nats.connect(nats_server.url)
    yield client
    await client.drain()


class Worker:
    """A service as a real child process (`python -m module`), for kill and SIGTERM tests."""

    def __init__(self, module: str, env: dict[str, str]) -> None:
        self.log = ROOT / f".pytest-{module.rsplit('.', 1)[-1]}-{os.getpid()}-{time.monotonic_ns()}.log"
        self._log_file = open(self.log, "wb")  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", module],
            cwd=ROOT,
            env={**os.environ, **env},
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
        )

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "ready (backend" in self.output():
                return
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited early:\n{self.output()}")
            await asyncio.sleep(0.05)
        raise AssertionError(f"worker not ready within {timeout}s:\n{self.output()}")

    def signal(self, sig: signal.Signals) -> None:
        self.process.send_signal(sig)

    async def wait(self, timeout: float = 30.0) -> int:
        deadline = time.monotonic() + timeout
        while self.process.poll() is None and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.process.poll() is None:
            raise AssertionError(f"worker still running after {timeout}s:\n{self.output()}")
        return self.process.returncode

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)
        self._log_file.close()
        self.log.unlink(missing_ok=True)


class Spawn(Protocol):
    """The `spawn` fixture: `spawn(module, NAME=value, ...)` starts `python -m module` with those variables."""

    def __call__(self, module: str, **env: str) -> Worker: ...


@pytest.fixture()
def spawn() -> Iterator[Spawn]:
    workers: list[Worker] = []

    def start(module: str, **env: str) -> Worker:
        worker = Worker(module, env)
        workers.append(worker)
        return worker

    yield start
    for worker in workers:
        worker.close()


APPS: dict[str, Any] = {}
"""The FastAPI app behind each running gateway URL: tests reach its state (the accounts' clock)."""


@contextlib.asynccontextmanager
async def running_gateway(settings: GatewaySettings) -> AsyncIterator[str]:
    """The real gateway (uvicorn + websockets, same config as production) in this event loop."""
    server = uvicorn.Server(server_config(settings))
    server.config.log_level = "warning"
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
            raise AssertionError("gateway exited before starting")
        await asyncio.sleep(0.02)
    url = f"http://127.0.0.1:{settings.port}"
    APPS[url] = server.config.app
    try:
        yield url
    finally:
        APPS.pop(url, None)
        server.should_exit = True
        await asyncio.wait_for(task, 15)


def gateway_settings(nats_server: NatsServer, redis_server: RedisServer, **overrides: object) -> GatewaySettings:
    port = free_port()
    defaults: dict[str, object] = {
        "database_url": f"sqlite:///{tempfile.mkdtemp(prefix='mrrrme-db-')}/mrrrme.db",
        "login_per_ip_per_min": 100_000,  # every test signs up from 127.0.0.1; the throttle tests set their own
        "ws_handshakes_per_ip_per_min": 100_000,  # ... and opens its sockets from there
    }
    return GatewaySettings(
        nats_url=nats_server.url,
        redis_url=redis_server.url,
        port=port,
        **(defaults | overrides),  # type: ignore[arg-type]
    )


@pytest.fixture()
async def gateway(nats_server: NatsServer, redis_server: RedisServer) -> AsyncIterator[str]:
    async with running_gateway(gateway_settings(nats_server, redis_server)) as url:
        yield url


def stop_process_tree(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


# Model loading must never reach for a hub in tests: local paths only.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


# --- databases -------------------------------------------------------------------------------------

POSTGRES_ADMIN_URL = os.environ.get("MRRRME_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


async def _postgres_reachable() -> bool:
    import asyncpg

    try:
        conn = await asyncio.wait_for(asyncpg.connect(POSTGRES_ADMIN_URL), 3.0)
    except Exception:
        return False
    await conn.close()
    return True


@contextlib.asynccontextmanager
async def empty_database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    """A URL of a brand-new, empty database: a SQLite file, or a fresh PostgreSQL database (dropped after)."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path}/mrrrme.db"
        return
    import asyncpg

    if not await _postgres_reachable():
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_ADMIN_URL} (set MRRRME_TEST_POSTGRES_URL)")
    name = f"mrrrme_test_{os.getpid()}_{time.monotonic_ns()}"
    admin = await asyncpg.connect(POSTGRES_ADMIN_URL)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
        yield f"{base}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    async with empty_database(request.param, tmp_path) as url:
        yield url


# --- no leaked asyncio tasks (livekit/agents' rule) ---------------------------------------------------

LEAK_GRACE_S = 2.0
"""How long a test's own tasks may take to finish after its last fixture closed (a close in flight)."""


@pytest.fixture()
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Fails an async test that leaves a task running after it and all its fixtures are done: a task
    nobody awaits is work whose failure nobody sees (or a resource never closed)."""
    before = asyncio.all_tasks()
    yield
    current = asyncio.current_task()
    deadline = time.monotonic() + LEAK_GRACE_S
    while True:
        leaked = [t for t in asyncio.all_tasks() if t is not current and t not in before and not t.done()]
        if not leaked or time.monotonic() > deadline:
            break
        await asyncio.sleep(0.05)
    if leaked:
        names = sorted(f"{t.get_name()} ({t.get_coro()!r})" for t in leaked)
        for task in leaked:
            task.cancel()
        pytest.fail(f"the test left {len(leaked)} asyncio task(s) running: {names}")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every async test gets `no_leaked_tasks` as its first fixture (set up first, torn down last)."""
    for item in items:
        function = getattr(item, "function", None)
        if function is not None and inspect.iscoroutinefunction(function):
            names = item.fixturenames  # type: ignore[attr-defined]
            if "no_leaked_tasks" not in names:
                names.insert(0, "no_leaked_tasks")
