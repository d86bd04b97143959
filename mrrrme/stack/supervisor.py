"""`make run`: infrastructure if none is configured, then the gateway and every service, supervised.

Each child runs as `python -m <module>` with its output prefixed by its name. A child that exits is
restarted with exponential backoff and the log says why (exit code or signal). Ctrl-C or SIGTERM stops
the children (SIGTERM, then SIGKILL after a grace period), then the embedded NATS and Redis, and leaves
no process behind: children also get PR_SET_PDEATHSIG so that even a SIGKILLed supervisor takes them
down with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import urllib.request
from dataclasses import dataclass, field

from mrrrme import registry
from mrrrme.stack.infra import NatsServer, RedisServer, die_with_parent, free_port

SERVICE_NAMES = tuple(registry.names())
"""Every registered service (mrrrme/registry.py), in the order of a turn's flow."""
RESTART_BACKOFF_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)
HEALTHY_RUN_S = 60.0
"""A child that ran this long before exiting starts its backoff from the beginning again."""
STOP_GRACE_S = 15.0


def say(text: str) -> None:
    print(f"[supervisor] {text}", flush=True)


def describe_exit(code: int) -> str:
    if code < 0:
        with contextlib.suppress(ValueError):
            return f"was killed by {signal.Signals(-code).name}"
        return f"was killed by signal {-code}"
    return f"exited with code {code}"


@dataclass
class Child:
    name: str
    module: str
    env: dict[str, str]
    process: asyncio.subprocess.Process | None = None
    restarts: int = 0
    started_at: float = 0.0
    pump: asyncio.Task[None] | None = field(default=None, repr=False)

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            "-m",
            self.module,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
            stdin=asyncio.subprocess.DEVNULL,
            env=self.env,
            preexec_fn=die_with_parent,
        )
        self.started_at = time.monotonic()
        self.pump = asyncio.create_task(self._pump(self.process))

    async def _pump(self, process: asyncio.subprocess.Process) -> None:
        assert process.stdout is not None
        async for line in process.stdout:
            sys.stdout.write(f"[{self.name}] {line.decode(errors='replace').rstrip()}\n")
            sys.stdout.flush()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), STOP_GRACE_S)
        except TimeoutError:
            say(f"{self.name} did not stop within {STOP_GRACE_S:.0f}s; killing it")
            self.process.kill()
            await self.process.wait()
        if self.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.pump, 2)


def parse_replicas(text: str, services: list[str]) -> dict[str, int]:
    """`MRRRME_REPLICAS`, e.g. "asr=2,face=2": how many processes of a service to run (default 1)."""
    replicas: dict[str, int] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, count = item.partition("=")
        if name.strip() not in services or not count.strip().isdigit() or int(count) < 1:
            raise ValueError(f"MRRRME_REPLICAS: {item!r} is not <service>=<count> for a running service")
        replicas[name.strip()] = int(count)
    return replicas


class Supervisor:
    def __init__(self, services: list[str], replicas: dict[str, int] | None = None) -> None:
        self.services = services
        self.replicas = replicas or {}
        self.children: list[Child] = []
        self.nats: NatsServer | None = None
        self.redis: RedisServer | None = None
        self._stopping = asyncio.Event()

    def _base_env(self) -> dict[str, str]:
        env = dict(os.environ)
        if "NATS_URL" not in env:
            self.nats = NatsServer(int(env.get("MRRRME_NATS_PORT", "0") or 0))
            self.nats.start()
            env["NATS_URL"] = self.nats.url
            say(f"started embedded NATS (JetStream) at {self.nats.url} (pid {self.nats.pid})")
        else:
            say(f"using NATS at {env['NATS_URL']}")
        if "REDIS_URL" not in env:
            self.redis = RedisServer(int(env.get("MRRRME_REDIS_PORT", "0") or 0))
            self.redis.start()
            env["REDIS_URL"] = self.redis.url
            say(f"started embedded Redis at {self.redis.url} (pid {self.redis.pid})")
        else:
            say("using the configured Redis")
        env.setdefault("PYTHONUNBUFFERED", "1")
        return env

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        try:
            env = self._base_env()
            port = int(env.get("MRRRME_GATEWAY_PORT", "7860"))
            host = env.get("MRRRME_GATEWAY_HOST", "127.0.0.1")
            self.children.append(Child("gateway", "gateway", env))
            for name in self.services:
                count = self.replicas.get(name, 1)
                for replica in range(1, count + 1):
                    child_env = dict(env)
                    key = f"MRRRME_{name.upper()}_METRICS_PORT"
                    child_env[key] = env.get(key, "0") if count == 1 else "0"  # replicas cannot share one port
                    if child_env[key] == "0":
                        child_env[key] = str(free_port())
                    label = name if count == 1 else f"{name}.{replica}"
                    self.children.append(Child(label, registry.service(name).module, child_env))
            for child in self.children:
                await child.start()
                say(f"started {child.name} (pid {child.process.pid if child.process else '?'})")
            watchers = [asyncio.create_task(self._watch())]
            for label, server in (("nats-server", self.nats), ("redis-server", self.redis)):
                if server is not None:
                    watchers.append(asyncio.create_task(self._watch_server(label, server)))
            await self._announce(host, port)
            await self._stopping.wait()
            for watcher in watchers:
                watcher.cancel()
            await asyncio.gather(*watchers, return_exceptions=True)
        finally:
            await self._shutdown()
        return 0

    async def _announce(self, host: str, port: int) -> None:
        url = f"http://{'localhost' if host in ('127.0.0.1', '0.0.0.0') else host}:{port}"
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not self._stopping.is_set():
            with contextlib.suppress(OSError):
                await asyncio.to_thread(urllib.request.urlopen, f"http://127.0.0.1:{port}/health", None, 2)
                say(f"MrrrMe is up: open {url}  (health: {url}/health; Ctrl-C stops everything)")
                return
            await asyncio.sleep(0.5)

    async def _watch(self) -> None:
        """Restart any child that exits, with backoff, saying why it went."""
        waits = {child.name: asyncio.create_task(self._wait(child)) for child in self.children}
        while True:
            done, _ = await asyncio.wait(waits.values(), return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                child = task.result()
                assert child.process is not None and child.process.returncode is not None
                ran = time.monotonic() - child.started_at
                if ran > HEALTHY_RUN_S:
                    child.restarts = 0
                backoff = RESTART_BACKOFF_S[min(child.restarts, len(RESTART_BACKOFF_S) - 1)]
                say(
                    f"{child.name} {describe_exit(child.process.returncode)} after {ran:.1f}s; "
                    f"restarting in {backoff:.0f}s (restart #{child.restarts + 1})"
                )
                child.restarts += 1
                await asyncio.sleep(backoff)
                await child.start()
                say(f"restarted {child.name} (pid {child.process.pid})")
                waits[child.name] = asyncio.create_task(self._wait(child))

    async def _watch_server(self, label: str, server: NatsServer | RedisServer) -> None:
        """Restart the embedded nats-server (same store dir: JetStream keeps what it had) or redis-server
        when it dies, with the same backoff as a service; the services reconnect by themselves."""
        restarts, started_at = 0, time.monotonic()
        while True:
            await asyncio.sleep(0.2)
            code = server.returncode
            if code is None:
                continue
            ran = time.monotonic() - started_at
            restarts = 0 if ran > HEALTHY_RUN_S else restarts
            backoff = RESTART_BACKOFF_S[min(restarts, len(RESTART_BACKOFF_S) - 1)]
            say(
                f"{label} {describe_exit(code)} after {ran:.1f}s; "
                f"restarting in {backoff:.0f}s (restart #{restarts + 1})"
            )
            restarts += 1
            await asyncio.sleep(backoff)
            try:
                await asyncio.to_thread(server.start)
            except Exception as exc:  # port still held, binary gone: try again after the next backoff
                say(f"{label} did not start again: {exc}")
                continue
            started_at = time.monotonic()
            say(f"restarted {label} (pid {server.pid})")

    @staticmethod
    async def _wait(child: Child) -> Child:
        assert child.process is not None
        await child.process.wait()
        if child.pump is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(child.pump, 2)
        return child

    async def _shutdown(self) -> None:
        say("stopping every process")
        await asyncio.gather(*(child.stop() for child in reversed(self.children)))
        for server in (self.redis, self.nats):
            if server is not None:
                server.close()
        say("all stopped")


def main() -> int:
    wanted = os.environ.get("MRRRME_SERVICES")
    services = list(SERVICE_NAMES)
    if wanted is not None:
        requested = [name.strip() for name in wanted.split(",") if name.strip()]
        unknown = [name for name in requested if name not in services]
        if unknown:
            say(f"unknown services: {', '.join(unknown)} (registered: {', '.join(services) or 'none'})")
            return 2
        services = requested
    try:
        replicas = parse_replicas(os.environ.get("MRRRME_REPLICAS", ""), services)
    except ValueError as bad:
        say(str(bad))
        return 2
    shown = [name if replicas.get(name, 1) == 1 else f"{name} x{replicas[name]}" for name in services]
    say(f"services: gateway{''.join(', ' + name for name in shown)}")
    return asyncio.run(Supervisor(services, replicas).run())
