"""`make run`'s supervisor: embedded NATS and Redis, replicas, /health, restart with backoff, nothing left behind."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from mrrrme.stack.infra import free_port
from mrrrme.stack.supervisor import SERVICE_NAMES, parse_replicas

ROOT = Path(__file__).resolve().parent.parent


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found: set[int] = set()
    stack = [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            if child not in found:
                found.add(child)
                stack.append(child)
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


class Output:
    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.lines: list[str] = []

    def wait_for(self, pattern: str, timeout: float = 60.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern)
        for line in self.lines:
            if match := regex.search(line):
                return match
        assert self.process.stdout is not None
        os.set_blocking(self.process.stdout.fileno(), False)
        while time.monotonic() < deadline:
            line = self.process.stdout.readline()
            if not line:
                if self.process.poll() is not None:
                    break
                time.sleep(0.05)
                continue
            self.lines.append(line)
            if match := regex.search(line):
                return match
        raise AssertionError(f"no line matching {pattern!r} within {timeout}s:\n{''.join(self.lines[-60:])}")


def get_json(url: str) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=5) as response:
        return dict(json.load(response))


Stack = tuple[subprocess.Popen[str], Output, int]
"""`make run` as a child process, its output and the gateway's port."""


@pytest.fixture()
def stack() -> Iterator[Stack]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("NATS_URL", "REDIS_URL")}
    env.update(MRRRME_GATEWAY_PORT=str(port), PYTHONUNBUFFERED="1", MRRRME_REPLICAS="asr=2")
    process = subprocess.Popen(
        [sys.executable, "-m", "mrrrme.run"],
        cwd=ROOT,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    output = Output(process)
    yield process, output, port
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_make_run_brings_the_stack_up_restarts_crashes_and_leaves_nothing_behind(stack: Stack) -> None:
    process, output, port = stack
    output.wait_for(r"started embedded NATS \(JetStream\) at nats://127\.0\.0\.1:\d+")
    output.wait_for(r"started embedded Redis")
    output.wait_for(rf"MrrrMe is up: open http://localhost:{port}")
    # Every built service shows up in /health and turns ready once its model is warm.
    deadline = time.monotonic() + 180
    while True:
        health = get_json(f"http://127.0.0.1:{port}/health")
        services = health["services"]
        assert isinstance(services, dict)
        wanted = {name: 2 if name == "asr" else 1 for name in SERVICE_NAMES}  # MRRRME_REPLICAS
        if all(services.get(name, {}).get("ready") == count for name, count in wanted.items()):
            break
        assert time.monotonic() < deadline, f"services not ready: {services}"
        time.sleep(1)
    assert health["status"] == "ok"
    assert set(SERVICE_NAMES) >= {"face", "voice", "asr", "text"}

    output.wait_for(r"services: gateway, .*asr x2")
    assert output.wait_for(r"started asr\.2 \(pid \d+\)")
    # Perishable frames yield the CPU: the face worker runs only on time nothing else wants.
    face_pid = int(output.wait_for(r"started face \(pid (\d+)\)").group(1))
    assert os.sched_getscheduler(face_pid) == os.SCHED_IDLE
    asr_pid = int(output.wait_for(r"started asr\.1 \(pid (\d+)\)").group(1))
    assert os.sched_getscheduler(asr_pid) == os.SCHED_OTHER

    gateway_pid = int(output.wait_for(r"started gateway \(pid (\d+)\)").group(1))
    os.kill(gateway_pid, signal.SIGKILL)
    output.wait_for(r"gateway was killed by SIGKILL after [\d.]+s; restarting in 1s")
    output.wait_for(r"restarted gateway \(pid \d+\)")
    deadline = time.monotonic() + 60
    while True:
        try:
            assert get_json(f"http://127.0.0.1:{port}/health")["status"] == "ok"
            break
        except OSError:
            assert time.monotonic() < deadline, "gateway did not come back"
            time.sleep(0.2)

    # The embedded infrastructure is supervised too: killed, it comes back (NATS on the same store) and
    # every service reconnects by itself.
    for label, pattern in (
        ("nats-server", r"NATS \(JetStream\) at \S+ \(pid (\d+)\)"),
        ("redis-server", r"Redis at \S+ \(pid (\d+)\)"),
    ):
        os.kill(int(output.wait_for(rf"started embedded {pattern}").group(1)), signal.SIGKILL)
        output.wait_for(rf"{label} was killed by SIGKILL after [\d.]+s; restarting in 1s")
        output.wait_for(rf"restarted {label} \(pid \d+\)")
    deadline = time.monotonic() + 120
    while True:
        with contextlib.suppress(OSError):
            services = get_json(f"http://127.0.0.1:{port}/health")["services"]
            assert isinstance(services, dict)
            if all(services.get(name, {}).get("ready") == count for name, count in wanted.items()):
                break
        assert time.monotonic() < deadline, "services did not come back after NATS and Redis restarted"
        time.sleep(0.5)

    everything = descendants(process.pid)
    assert len(everything) >= 3 + len(SERVICE_NAMES)  # NATS, Redis, gateway, services
    process.send_signal(signal.SIGINT)
    assert process.wait(timeout=60) == 0
    output.wait_for(r"all stopped")
    time.sleep(0.2)
    assert [pid for pid in everything if alive(pid)] == []


def test_replicas_are_read_as_service_counts_and_mistakes_are_named() -> None:
    assert parse_replicas(" asr=2, face=3 ,", ["asr", "face", "tts"]) == {"asr": 2, "face": 3}
    assert parse_replicas("", ["asr"]) == {}
    for wrong in ("asr", "asr=0", "asr=two", "gateway=2", "nope=1"):
        with pytest.raises(ValueError, match="MRRRME_REPLICAS"):
            parse_replicas(wrong, ["asr", "face"])
