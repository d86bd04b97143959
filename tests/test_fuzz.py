"""Fuzz the real gateway over a real WebSocket (TARGETS W9): every client message type, valid and
mutated (wrong types, missing and unknown fields, deep nesting, huge strings, invalid UTF-8, random
and truncated binary frames), 10,000 messages by default (`MRRRME_FUZZ_MESSAGES` for more,
`MRRRME_FUZZ_SEED` to replay a run).

Every message is generated with the answer it must get, and the test holds the gateway to it:
- a refused message is answered: an `error` event, or counted in a later notice's `refused_since`
  when the notices themselves are rate-limited; or the socket closes with the documented code;
- no traceback and no ERROR line in any log;
- a legitimate client on another socket is still served afterwards, and no session is left behind;
- the process's memory is roughly flat.

The per-socket rate limits are lifted here so that honest messages have a certain outcome (the rate
limits have their own tests in test_gateway.py).
"""

from __future__ import annotations

import asyncio
import base64
import gc
import json
import os
import random
import string
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import pytest
import websockets

from gateway.client import GatewayClient
from gateway.protocol import KIND_AUDIO, KIND_VIDEO, MAX_JSON_DEPTH, pack_binary
from mrrrme import subjects
from mrrrme.contracts import Frame
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import new_user
from tests.conftest import gateway_settings, running_gateway
from tests.test_gateway import TINY_JPEG, subscribe
from tests.test_gateway_hardening import LogTrap, logs, lying_jpeg, state_of  # noqa: F401 (logs: fixture)

MESSAGES = int(os.environ.get("MRRRME_FUZZ_MESSAGES", "10000"))
SEED = int(os.environ.get("MRRRME_FUZZ_SEED", str(random.SystemRandom().randrange(2**32))))
BATCH = 100

Outcome = Literal["silent", "refused", "close"]
CLOSE_CODES = {1002, 1007, 1009, 4001}
"""What a closing message may end with (docs/protocol.md, Close codes)."""
NOT_REFUSALS = {"service_unavailable"}
"""Gateway notices that answer a valid message (a greeting with no dialogue running), not a refusal."""


@dataclass(frozen=True)
class Case:
    data: str | bytes
    outcome: Outcome
    text_bytes: bool = False
    """Send `data` (bytes) as a text frame: invalid UTF-8."""
    raw: bool = False
    """Write `data` straight to the TCP stream: bytes that are not a WebSocket frame."""


class Generator:
    """Client messages with the answer each must get. Deterministic for a seed."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        assert TINY_JPEG.find(b"\xff\xd9") == len(TINY_JPEG) - 2  # every strict prefix lacks its end marker

    # --- building blocks ----------------------------------------------------------------------------

    def junk(self, size: int) -> str:
        alphabet = string.printable + "éü中😀\u0000\u2028"
        return "".join(self.rng.choice(alphabet) for _ in range(size))

    def pcm(self, samples: int) -> bytes:
        return bytes(self.rng.randrange(-8, 9) & 0xFF for _ in range(2 * samples))  # near-silence

    def valid_message(self) -> dict[str, Any]:
        kind = self.rng.choice(["video_frame", "audio_chunk", "speech_end", "preferences", "ping"])
        if kind == "video_frame":
            return {"type": kind, "frame": "data:image/jpeg;base64," + base64.b64encode(TINY_JPEG).decode()}
        if kind == "audio_chunk":
            return {"type": kind, "audio": base64.b64encode(self.pcm(self.rng.choice([160, 320, 640]))).decode()}
        if kind == "speech_end":
            return {
                "type": kind,
                **({"text": self.junk(self.rng.randrange(1, 200))} if self.rng.random() < 0.5 else {}),
            }
        if kind == "preferences":
            options = {
                "voice": ["female", "male"],
                "language": ["en", "nl", "de"],
                "personality": ["therapist", "coach"],
                "style": ["brief", "balanced", "detailed"],
            }
            return {"type": kind, **{k: self.rng.choice(v) for k, v in options.items() if self.rng.random() < 0.5}}
        return {"type": kind}

    # --- cases --------------------------------------------------------------------------------------

    def case(self) -> Case:
        name = self.rng.choices([n for n, _ in CASE_WEIGHTS], weights=[w for _, w in CASE_WEIGHTS])[0]
        case: Case = getattr(self, name)()
        return case

    def valid(self) -> Case:
        return Case(json.dumps(self.valid_message()), "silent")

    def valid_binary(self) -> Case:
        if self.rng.random() < 0.5:
            return Case(pack_binary(KIND_VIDEO, self.rng.randrange(2**32), 0, TINY_JPEG), "silent")
        return Case(pack_binary(KIND_AUDIO, 0, 0, self.pcm(self.rng.choice([160, 320]))), "silent")

    def truncated(self) -> Case:
        text = json.dumps(self.valid_message())
        return Case(text[: self.rng.randrange(len(text))], "refused")  # a strict prefix of an object: not JSON

    def not_an_object(self) -> Case:
        value = self.rng.choice([1, -2.5, "ping", None, True, [], [{"type": "ping"}], "x" * 1000])
        return Case(json.dumps(value), "refused")

    def unknown_type(self) -> Case:
        kind: Any = self.rng.choice([self.junk(self.rng.randrange(0, 60)), 7, None, ["ping"], {"a": 1}, "PING"])
        return Case(json.dumps({"type": kind}), "refused")

    def wrong_types(self) -> Case:
        message = self.valid_message()
        fields = [k for k in message if k != "type"]
        wrong = self.rng.choice([0, 1.5, True, [], {}, ["x"], {"k": "v"}])
        if fields and self.rng.random() < 0.7:
            message[self.rng.choice(fields)] = wrong
        else:
            message[self.junk(self.rng.randrange(1, 12))] = wrong  # an unknown field: forbidden
        if not fields and message.get("type") == "speech_end":
            message["text"] = wrong if wrong is not None else 0
        return Case(json.dumps(message), "refused")

    def missing_field(self) -> Case:
        kind = self.rng.choice(["video_frame", "audio_chunk"])
        return Case(json.dumps({"type": kind}), "refused")

    def bad_values(self) -> Case:
        choice = self.rng.randrange(8)
        if choice == 0:
            return Case(json.dumps({"type": "audio_chunk", "audio": "***" + self.junk(20)}), "refused")
        if choice == 1:
            odd = base64.b64encode(self.pcm(10) + b"\x01").decode()
            return Case(json.dumps({"type": "audio_chunk", "audio": odd}), "refused")
        if choice == 2:
            return Case(json.dumps({"type": "video_frame", "frame": "data:image/png;base64,AAAA"}), "refused")
        if choice == 3:
            cut = TINY_JPEG[: self.rng.randrange(len(TINY_JPEG) - 1)]
            frame = "data:image/jpeg;base64," + base64.b64encode(cut).decode()
            return Case(json.dumps({"type": "video_frame", "frame": frame}), "refused")
        if choice == 4:
            frame = "data:image/jpeg;base64," + base64.b64encode(lying_jpeg(30000, 30000)).decode()
            return Case(json.dumps({"type": "video_frame", "frame": frame}), "refused")
        if choice == 5:
            return Case(json.dumps({"type": "preferences", "personality": self.junk(8)}), "refused")
        if choice == 6:
            return Case(json.dumps({"type": "speech_end", "text": "a" * self.rng.randrange(2001, 9000)}), "refused")
        return Case(json.dumps({"type": "auth", "token": self.junk(30)}), "refused")  # already authenticated

    def deep(self) -> Case:
        depth = self.rng.choice([MAX_JSON_DEPTH + 1, 50, 1000, 5000])
        inner = "[" * depth + "]" * depth if self.rng.random() < 0.5 else '{"a":' * depth + "1" + "}" * depth
        return Case(json.dumps({"type": "ping"})[:-1] + ', "x": ' + inner + "}", "refused")

    def huge_string(self) -> Case:
        # Large but under the control limit: refused for its content, not its size.
        return Case(json.dumps({"type": "ping", self.junk(5): "z" * self.rng.randrange(1000, 60000)}), "refused")

    def random_binary(self) -> Case:
        data = bytes(self.rng.randrange(256) for _ in range(self.rng.randrange(0, 300)))
        if data[:2] == b"MR":
            data = b"XX" + data[2:]
        return Case(data, "refused")

    def truncated_binary(self) -> Case:
        if self.rng.random() < 0.5:
            packed = pack_binary(KIND_VIDEO, 1, 0, TINY_JPEG)
            return Case(packed[: self.rng.randrange(len(packed) - 1)], "refused")
        packed = pack_binary(KIND_AUDIO, 1, 0, self.pcm(50) + b"\x00")  # odd: not PCM16
        return Case(packed if self.rng.random() < 0.5 else packed[: self.rng.randrange(16)], "refused")

    def bad_binary_header(self) -> Case:
        kind = self.rng.choice([0, 3, 9, 255])
        return Case(pack_binary(kind, 1, 0, b"payload"), "refused")

    # Closing cases: the last message of a socket.
    def invalid_utf8(self) -> Case:
        return Case(
            b'{"type": "speech_end", "text": "' + bytes([self.rng.choice([0xFF, 0xC0, 0xED])]) + b'"}', "close", True
        )

    def raw_garbage(self) -> Case:
        # Unmasked, reserved bits set, unknown opcodes, lengths that lie: whatever the bytes say.
        data = bytearray(self.rng.randrange(256) for _ in range(self.rng.randrange(2, 64)))
        data[1] &= 0x7F  # unmasked, which a server must refuse at once: never a frame it waits to complete
        return Case(bytes(data), "close", raw=True)

    def too_big(self) -> Case:
        choice = self.rng.randrange(4)
        if choice == 0:
            return Case(json.dumps({"type": "speech_end", "text": "b" * 70_000}), "close")  # over the control limit
        if choice == 1:
            return Case(pack_binary(KIND_AUDIO, 1, 0, bytes(40_000)), "close")  # over the audio chunk limit
        if choice == 2:
            return Case(pack_binary(KIND_VIDEO, 1, 0, b"\xff\xd8" + bytes(300_000) + b"\xff\xd9"), "close")
        return Case("x" * (600 * 1024), "close")  # over the protocol limit


CASE_WEIGHTS: tuple[tuple[str, int], ...] = (
    ("valid", 20),
    ("valid_binary", 10),
    ("truncated", 8),
    ("not_an_object", 4),
    ("unknown_type", 5),
    ("wrong_types", 10),
    ("missing_field", 3),
    ("bad_values", 10),
    ("deep", 5),
    ("huge_string", 2),
    ("random_binary", 6),
    ("truncated_binary", 5),
    ("bad_binary_header", 3),
)
"""Non-closing cases by `Generator` method name, with how often each is drawn."""
CLOSING = ("invalid_utf8", "too_big", "raw_garbage")
"""Cases that end their socket."""


class Tally:
    """What came back on one socket."""

    def __init__(self) -> None:
        self.answered = 0
        self.close_code: int | None = None

    def take(self, raw: str | bytes) -> None:
        event = json.loads(raw)
        if event.get("type") != "error":
            return
        assert event.get("source") == "gateway" and event.get("message"), event
        self.answered += int(event["code"] not in NOT_REFUSALS) + int(event.get("refused_since", 0))


async def read_into(ws: websockets.ClientConnection, tally: Tally) -> None:
    try:
        async for raw in ws:
            tally.take(raw)
    except websockets.exceptions.ConnectionClosed:
        pass
    tally.close_code = ws.close_code


async def until(check: Callable[[], bool], timeout: float, what: Callable[[], str]) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"seed {SEED}: {what()}")
        await asyncio.sleep(0.01)


def rss() -> int:
    """This process's resident memory (the gateway runs in it), from /proc (Linux, like CI)."""
    gc.collect()
    resident_pages = int(Path("/proc/self/statm").read_text().split()[1])
    return resident_pages * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.timeout(300)
async def test_fuzzed_messages_are_all_answered_without_a_traceback(
    nats_server: NatsServer,
    redis_server: RedisServer,
    logs: LogTrap,  # noqa: F811
) -> None:
    settings = gateway_settings(
        nats_server,
        redis_server,
        video_fps_limit=1e6,
        audio_chunks_per_s_limit=1e6,
        control_per_s_limit=1e6,
    )
    gen = Generator(SEED)
    async with running_gateway(settings) as url:
        ws_url = url.replace("http://", "ws://") + "/ws"
        tokens = [await new_user(url, "fuzz") for _ in range(2)]
        bystander_token = await new_user(url, "bystander")
        frames = await subscribe_frames(url)
        async with GatewayClient.connect(url, bystander_token) as bystander:
            sent = 0
            sockets = 0
            baseline: int | None = None
            while sent < MESSAGES:
                if baseline is None and sent >= MESSAGES // 10:
                    baseline = rss()  # after a warm-up (caches, first allocations on every path)
                pre_auth = gen.rng.random() < 0.05
                token = tokens[sockets % len(tokens)]
                sent += await one_socket(ws_url, url, token, gen, pre_auth)
                sockets += 1
            final = rss()
            # A legitimate client on another socket is still served, media and all.
            await bystander.send_json({"type": "ping"})
            assert (await bystander.receive(timeout=5))["type"] == "pong"
            await bystander.send_frame(TINY_JPEG)
            await frames.wait_for(1)
        await until(lambda: not state_of(url).sessions, 10, lambda: "sessions left behind")
    assert logs.tracebacks() == [], f"seed {SEED}"
    assert baseline is not None
    growth = (final - baseline) / baseline
    print(f"fuzz: {sent} messages on {sockets} sockets, seed {SEED}, RSS {baseline >> 20} -> {final >> 20} MiB")
    assert growth < 0.10, f"seed {SEED}: RSS grew {growth:.1%} ({baseline >> 20} -> {final >> 20} MiB)"


async def subscribe_frames(url: str) -> Any:
    return await subscribe(state_of(url).nc, subjects.ALL_FRAMES, Frame)


async def one_socket(ws_url: str, url: str, token: str, gen: Generator, pre_auth: bool) -> int:
    """One socket's worth of cases; returns how many messages were sent."""
    ws = await websockets.connect(ws_url, origin=url, max_size=None, compression=None)  # type: ignore[arg-type]
    tally = Tally()
    if pre_auth:
        # Anything but auth or ping before auth is refused and closes 4001 (or 1007/1009 for bad frames).
        case = gen.case()
        while case.data == json.dumps({"type": "ping"}):
            case = gen.case()
        reader = asyncio.create_task(read_into(ws, tally))
        await send(ws, case)
        await asyncio.wait_for(reader, 10)
        assert tally.close_code in CLOSE_CODES, f"seed {SEED}: pre-auth {case!r} -> {tally.close_code}"
        if tally.close_code == 4001:
            assert tally.answered >= 1, f"seed {SEED}: pre-auth refusal without an answer: {case!r}"
        return 1
    await ws.send(json.dumps({"type": "auth", "token": token}))
    ready = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert ready["type"] == "ready", f"seed {SEED}: {ready}"
    reader = asyncio.create_task(read_into(ws, tally))
    cases = [gen.case() for _ in range(BATCH)]
    for case in cases:
        await send(ws, case)
    refused = sum(c.outcome == "refused" for c in cases)
    await until(
        lambda: tally.answered >= refused or tally.close_code is not None,
        15,
        lambda: f"{refused - tally.answered} of {refused} refused messages got no answer",
    )
    assert tally.close_code is None, f"seed {SEED}: socket closed {tally.close_code} by non-closing messages"
    await asyncio.sleep(0.05)
    assert tally.answered == refused, f"seed {SEED}: {tally.answered} answers for {refused} refusals"
    sent = len(cases)
    if gen.rng.random() < 0.3:
        closing = getattr(gen, gen.rng.choice(CLOSING))()
        await send(ws, closing)
        await asyncio.wait_for(reader, 10)
        assert tally.close_code in CLOSE_CODES, f"seed {SEED}: {closing.data[:60]!r} -> {tally.close_code}"
        sent += 1
    else:
        await ws.close()
        await asyncio.wait_for(reader, 10)
    # The account's socket slot is free again before the next socket of the same account.
    await until(lambda: len(state_of(url).sessions) <= 1, 10, lambda: "a closed socket still counted")
    return sent


async def send(ws: websockets.ClientConnection, case: Case) -> None:
    try:
        if case.raw:
            assert isinstance(case.data, bytes) and ws.transport is not None
            ws.transport.write(case.data)
        elif case.text_bytes:
            assert isinstance(case.data, bytes)
            await ws.send(case.data, text=True)
        else:
            await ws.send(case.data)
    except websockets.exceptions.ConnectionClosed:
        pass  # the close is what the reader reports
