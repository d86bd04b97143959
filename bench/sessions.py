"""Concurrent sessions on the lite profile: N people at once, each with camera and microphone live.

    .venv/bin/python -m bench.sessions [--sessions 20] [--turns 3] [--fps 5]

Starts the stack as `make run` does (`python -m mrrrme.run`: the gateway and every service in its own
process, one each unless MRRRME_REPLICAS says otherwise, with a private NATS, Redis and SQLite
database), then connects N signed-up sessions from this process. Each session sends 320x240 JPEG
frames at `--fps` and a continuous 16 kHz microphone stream in 40 ms chunks, paced by the clock:
silence, then a turn every 10 s (a spoken sentence, then silence while the reply comes), `--turns`
times, the sessions' turns spread evenly over time.

Measured per turn, from the end of its speech to the client: the transcript, the fused emotion and the
first reply audio (`llm_response`); a turn with no reply when its session ends (20 s or more after its
speech) is lost, and the stage where a lost turn stopped says where it was lost. Also: frames sent and
face readings that came back (the face service drops frames that are stale by the time it gets to them,
by design), error events, the CPU each process of the stack used, and how fast the machine was before
the run. The stack's log is kept in build/bench-sessions/stack.log.

The load generator runs on the same machine as the stack, so the stack gets less than the whole CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from mrrrme import registry

os.environ.setdefault("HF_HUB_OFFLINE", "1")

CHUNK_S = 0.04
SPEECH = [
    "I had a really long day at work today",
    "I feel a bit tired and sad tonight",
    "Can you help me relax a little",
    "My friend called me and we laughed a lot",
]
TURN_EVERY_S = 10.0
"""Each session starts a turn this often (TARGETS.md S1): the sentence, then silence while the reply
comes and plays."""
REPLY_TIMEOUT_S = 20.0
LOG_FOLDER = Path("build/bench-sessions")
"""The stack's log is kept here for reading after the run (it holds no media, like every log)."""


STAGES = ("transcript", "fused_emotion", "llm_response")
"""What each spoken turn should bring back, in order: where a lost turn stopped tells which stage lost it."""


@dataclass
class SessionLog:
    speech_ends: list[float] = field(default_factory=list)
    turn_of: dict[str, int] = field(default_factory=dict)
    """utterance id -> which spoken turn it is: the last one that ended before its first event arrived."""
    arrivals: dict[str, dict[int, float]] = field(default_factory=lambda: {stage: {} for stage in STAGES})
    errors: dict[str, int] = field(default_factory=dict)
    frames_sent: int = 0
    face_readings: int = 0

    def arrived(self, stage: str, utterance_id: str) -> None:
        now = time.monotonic()
        if utterance_id not in self.turn_of:
            ended = [i for i, end in enumerate(self.speech_ends) if end <= now]
            if not ended:
                return
            self.turn_of[utterance_id] = ended[-1]
        self.arrivals[stage].setdefault(self.turn_of[utterance_id], now)

    def latencies(self, stage: str) -> list[float]:
        """Seconds from the end of each answered turn's speech to its event of that stage."""
        return [at - self.speech_ends[turn] for turn, at in self.arrivals[stage].items()]


def start_stack(port: int, folder: Path) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    for name in ("NATS_URL", "REDIS_URL"):
        env.pop(name, None)  # the supervisor starts private ones
    env.update(
        MRRRME_GATEWAY_PORT=str(port),
        DATABASE_URL=f"sqlite:///{folder}/bench.db",
        MRRRME_GATEWAY_LOGIN_PER_IP_PER_MIN="1000",  # every bench session signs up from one address
        MRRRME_GATEWAY_WS_HANDSHAKES_PER_IP_PER_MIN="1000",  # ... and opens its socket from it
        MRRRME_LOG_LEVEL="WARNING",
    )
    log = open(LOG_FOLDER / "stack.log", "wb")  # noqa: SIM115 - closed with the process
    return subprocess.Popen([sys.executable, "-m", "mrrrme.run"], env=env, stdout=log, stderr=subprocess.STDOUT)


SERVICES = tuple(registry.names())


def wait_healthy(port: int, process: subprocess.Popen[bytes], timeout_s: float = 180.0) -> None:
    """Until the gateway's /health lists every service ready."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit("the stack exited while starting")
        with (
            contextlib.suppress(OSError, ValueError),
            urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as response,
        ):
            services = json.loads(response.read())["services"]
            if all(services.get(name, {}).get("ready", 0) >= 1 for name in SERVICES):
                return
        time.sleep(1.0)
    raise SystemExit(f"the stack was not ready within {timeout_s:.0f}s")


def cpu_seconds_by_process(root: int) -> dict[str, float]:
    """CPU seconds (user + system) so far of every process under `root`, by name (Linux /proc)."""
    ticks = os.sysconf("SC_CLK_TCK")
    parents: dict[int, int] = {}
    used: dict[int, float] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            parents[pid] = int(fields[1])
            used[pid] = (int(fields[11]) + int(fields[12])) / ticks
    totals: dict[str, float] = {}
    for pid in used:
        ancestor = pid
        while ancestor not in (0, 1, root):
            ancestor = parents.get(ancestor, 0)
        if ancestor != root:
            continue
        with contextlib.suppress(OSError):
            argv = (Path("/proc") / str(pid) / "cmdline").read_bytes().split(b"\0")
            words = [a.decode(errors="replace") for a in argv if a]
            name = words[words.index("-m") + 1] if "-m" in words else Path(words[0]).name if words else "?"
            totals[name] = totals.get(name, 0.0) + used[pid]
    return totals


async def paced(send: object, chunks: list[bytes], period_s: float) -> None:
    """Send chunks one period apart by the clock (no drift when the loop is busy)."""
    next_at = time.monotonic()
    for chunk in chunks:
        await send(chunk)  # type: ignore[operator]
        next_at += period_s
        await asyncio.sleep(max(0.0, next_at - time.monotonic()))


def recogniser_ms(pcm: bytes) -> float:
    """The machine's speed right now: median ms for the lite recogniser to decode one sentence, alone.
    A virtual machine's CPU varies from hour to hour; this number says how fast this run's machine was."""
    import numpy as np

    from services.asr.backends.lite import SphinxBackend
    from services.asr.settings import AsrSettings

    backend = SphinxBackend(AsrSettings())
    audio = np.frombuffer(pcm, dtype="<i2").astype(np.float32) / 32768
    times = []
    for _ in range(5):
        started = time.perf_counter()
        backend.transcribe(audio, "en")
        times.append(1000 * (time.perf_counter() - started))
    return statistics.median(times)


def camera_frame() -> bytes:
    """The frame every session sends: the astronaut in the web client's 320x240, as its JPEG."""
    import cv2
    import numpy as np

    from tests.images import SAMPLES, jpeg

    canvas = np.full((240, 320, 3), 128, dtype=np.uint8)
    canvas[:, 40:280] = cv2.resize(SAMPLES.astronaut(), (240, 240))
    return jpeg(canvas, quality=80)


def chunks(pcm: bytes) -> list[bytes]:
    step = int(16000 * 2 * CHUNK_S)
    return [pcm[i : i + step] for i in range(0, len(pcm), step)]


async def one_session(
    url: str, token: str, index: int, sessions: int, speech: list[bytes], frame: bytes, fps: float, log: SessionLog
) -> None:
    from gateway.client import GatewayClient
    from tests.speech import silence

    async with GatewayClient.connect(url, token) as client:
        await client.send_json({"type": "preferences", "style": "brief"})

        async def camera() -> None:
            while fps > 0:
                await client.send_frame(frame)
                log.frames_sent += 1
                await asyncio.sleep(1 / fps)

        async def listen() -> None:
            async for _, event in client.events():
                kind = event["type"]
                if kind == "face_emotion":
                    log.face_readings += 1
                elif kind in ("transcript", "fused_emotion") and event.get("utterance_id"):
                    log.arrived(kind, str(event["utterance_id"]))
                elif kind == "llm_response" and event.get("turn_id"):
                    log.arrived(kind, str(event["turn_id"]))
                elif kind == "error":
                    log.errors[str(event.get("code"))] = log.errors.get(str(event.get("code")), 0) + 1

        async def microphone() -> None:
            await paced(client.send_audio, chunks(silence(0.5 + TURN_EVERY_S * index / sessions).tobytes()), CHUNK_S)
            for pcm in speech:
                await paced(client.send_audio, chunks(pcm), CHUNK_S)
                log.speech_ends.append(time.monotonic())
                pause_s = TURN_EVERY_S - len(pcm) / 32000
                await paced(client.send_audio, chunks(silence(pause_s).tobytes()), CHUNK_S)
            await asyncio.sleep(max(0.0, REPLY_TIMEOUT_S - pause_s))

        background = [asyncio.create_task(camera()), asyncio.create_task(listen())]
        try:
            await microphone()
        finally:
            for task in background:
                task.cancel()
            await asyncio.gather(*background, return_exceptions=True)


async def run(sessions: int, turns: int, fps: float) -> None:
    from bench.voice_to_voice import pct
    from gateway.client import sign_in
    from mrrrme.stack.infra import free_port
    from tests.speech import synthesize

    # Made before the clock starts: piper on the load generator's loop would stall every session.
    frame = camera_frame()
    spoken = {text: synthesize(text).tobytes() for text in SPEECH}
    speech = [[spoken[SPEECH[(i + t) % len(SPEECH)]] for t in range(turns)] for i in range(sessions)]
    speed_ms = recogniser_ms(spoken[SPEECH[0]])
    with tempfile.TemporaryDirectory(prefix="mrrrme-bench-") as tmp:
        folder = Path(tmp)
        port = free_port()
        stack = start_stack(port, folder)
        try:
            print(f"starting the stack (log: {LOG_FOLDER / 'stack.log'})...", flush=True)
            await asyncio.to_thread(wait_healthy, port, stack)
            url = f"http://127.0.0.1:{port}"
            tokens = [
                await asyncio.to_thread(sign_in, url, f"bench{i}", "bench-password-not-secret") for i in range(sessions)
            ]
            print(f"{sessions} sessions signed in; streaming...", flush=True)
            logs = [SessionLog() for _ in range(sessions)]
            started = time.monotonic()
            cpu_before = cpu_seconds_by_process(stack.pid)
            load_before = time.process_time()
            await asyncio.gather(
                *(one_session(url, tokens[i], i, sessions, speech[i], frame, fps, logs[i]) for i in range(sessions))
            )
            elapsed = time.monotonic() - started
            cpu_after = cpu_seconds_by_process(stack.pid)
            load_cores = (time.process_time() - load_before) / elapsed
        finally:
            stack.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                stack.wait(30)
            if stack.poll() is None:
                stack.kill()
    spoken_turns = sum(len(log.speech_ends) for log in logs)
    frames = sum(log.frames_sent for log in logs)
    readings = sum(log.face_readings for log in logs)
    errors: dict[str, int] = {}
    for log in logs:
        for code, count in log.errors.items():
            errors[code] = errors.get(code, 0) + count
    print()
    print(f"{sessions} sessions x {turns} turns over {elapsed:.0f} s, {fps:g} fps camera + continuous microphone each")
    print(f"machine speed before the run: pocketsphinx alone decodes a sentence in {speed_ms:.0f} ms")
    print("| stage (from end of speech) | turns | p50 ms | p95 ms | max ms |")
    print("|---|---|---|---|---|")
    for stage in STAGES:
        values = [1000 * value for log in logs for value in log.latencies(stage)]
        if values:
            print(f"| {stage} | {len(values)} | {statistics.median(values):.0f} | {pct(values, 0.95):.0f} "
                  f"| {max(values):.0f} |")  # fmt: skip
    answered = sum(len(log.arrivals["llm_response"]) for log in logs)
    print(f"turns answered: {answered} of {spoken_turns} (lost: {spoken_turns - answered})")
    share = readings / max(frames, 1)
    print(f"frames sent: {frames} ({frames / elapsed:.0f}/s); face readings back: {readings} ({share:.0%})")
    print(f"error events: {errors or 'none'}")
    cores = {name: (cpu_after[name] - cpu_before.get(name, 0.0)) / elapsed for name in cpu_after}
    busiest = sorted(cores.items(), key=lambda item: -item[1])
    print(f"CPU of the stack (cores, averaged over the run; {os.cpu_count()} in the machine): {sum(cores.values()):.2f}"
          " = " + ", ".join(f"{n} {c:.2f}" for n, c in busiest if c >= 0.01))  # fmt: skip
    print(f"CPU of the load generator (this process, every session's socket): {load_cores:.2f} cores")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=20)
    parser.add_argument("--turns", type=int, default=3)
    parser.add_argument("--fps", type=float, default=5.0, help="camera frames per second per session (0: none)")
    args = parser.parse_args()
    LOG_FOLDER.mkdir(parents=True, exist_ok=True)
    asyncio.run(run(args.sessions, args.turns, args.fps))


if __name__ == "__main__":
    main()
