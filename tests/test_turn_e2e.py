"""The whole loop over real NATS and Redis with the lite profile: the person speaks, the avatar answers;
and barge-in: speaking over a reply stops it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import logging
import re
import time
import wave
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from gateway.client import GatewayClient
from mrrrme import subjects
from mrrrme.logs import quiet_payload_loggers
from mrrrme.runtime import Service
from mrrrme.stack.infra import NatsServer, RedisServer
from mrrrme.store import async_url
from mrrrme.store.schema import Message, Summary
from services.asr.service import AsrService
from services.asr.settings import AsrSettings
from services.dialogue import phrases
from services.dialogue.pacing import first_pieces
from services.dialogue.service import DialogueService
from services.dialogue.settings import DialogueSettings
from services.face.service import FaceService
from services.face.settings import FaceSettings
from services.fusion.service import FusionService
from services.fusion.settings import FusionSettings
from services.memory.service import MemoryService
from services.memory.settings import MemorySettings
from services.text.service import TextService
from services.text.settings import TextSettings
from services.tts.service import TtsService
from services.tts.settings import TtsSettings
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings
from tests.accounts import PASSWORD, new_user
from tests.conftest import APPS
from tests.fake_llm import FakeLlm, running
from tests.images import astronaut
from tests.mesh import started
from tests.speech import sentences_with_pauses


def mesh(nats_url: str, redis_url: str, dialogue: DialogueSettings | None = None) -> list[Service[Any]]:
    common: dict[str, Any] = {"nats_url": nats_url, "redis_url": redis_url}
    return [
        FaceService(FaceSettings(**common, backend="lite", max_frame_age_ms=10_000)),
        VoiceService(VoiceSettings(**common, backend="lite")),
        AsrService(AsrSettings(**common, backend="lite")),
        TextService(TextSettings(**common, backend="lite")),
        FusionService(FusionSettings(**common)),
        DialogueService(dialogue or DialogueSettings(**common, backend="lite")),
        TtsService(TtsSettings(**common, backend="lite")),
    ]


def wav_seconds(encoded: str) -> float:
    with wave.open(io.BytesIO(base64.b64decode(encoded)), "rb") as audio:
        return audio.getnframes() / audio.getframerate()


async def test_speech_and_a_face_get_emotions_then_a_spoken_lip_synced_reply(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    async with started(*mesh(nats_server.url, redis_server.url)):
        token = await new_user(gateway, "speaker")
        async with GatewayClient.connect(gateway, token) as client:
            events: list[dict[str, Any]] = []

            async def listen() -> None:
                """Until the last sentence of the reply to what was said (the turn id is the utterance's)."""
                said: set[str] = set()
                async for _, event in client.events():
                    events.append(event)
                    if event["type"] == "transcript":
                        said.add(event["utterance_id"])
                    if event["type"] == "llm_response" and event["final"] and event["turn_id"] in said:
                        return

            listening = asyncio.create_task(listen())
            await client.send_json({"type": "preferences", "style": "balanced"})
            for _ in range(3):
                await client.send_frame(astronaut())
            async with asyncio.timeout(30):  # the camera runs before the person speaks
                while not any(e["type"] == "face_emotion" for e in events):
                    await asyncio.sleep(0.05)
            speech = sentences_with_pauses(["I am so happy to see you today"], 1.0).tobytes()

            # In real time, as a microphone (and the Python client) sends it, with the camera running on:
            # an utterance's wall-clock span picks the faces seen while it was spoken.
            async def camera() -> None:
                while True:
                    await client.send_frame(astronaut())
                    await asyncio.sleep(0.2)

            filming = asyncio.create_task(camera())
            try:
                await client.stream_audio(speech, chunk_ms=100, realtime=True)
            finally:
                filming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await filming
            try:
                await asyncio.wait_for(listening, 90)
            except TimeoutError:
                raise AssertionError(f"events: {[e['type'] for e in events]}") from None
    kinds = [e["type"] for e in events]
    turns = [i for i, e in enumerate(events) if e["type"] == "fused_emotion" and not e["live"]]
    assert turns, f"no fused emotion for the turn: {kinds}"
    fused_at = turns[0]
    transcript = next(e for e in events if e["type"] == "transcript")
    # Whatever the recogniser's casing and punctuation (Whisper writes both, pocketsphinx neither).
    assert " ".join(re.sub(r"[^a-z' ]", " ", transcript["text"].lower()).split()) == "i am so happy to see you today"
    for kind in ("transcript", "voice_emotion", "text_emotion", "face_emotion"):
        assert kind in kinds[:fused_at], f"{kind} must come before the fused emotion: {kinds}"
    fused = events[fused_at]
    assert fused["utterance_id"] == transcript["utterance_id"] and fused["emotion"] == "Happy"
    assert fused["modalities"]["face"]["emotion"] == "Happy"  # the faces seen while speaking took part
    replies = [e for e in events[fused_at:] if e["type"] == "llm_response"]
    assert [r["index"] for r in replies] == list(range(len(replies)))
    # Two sentences; the first may come as two pieces, its opening clause apart ("Okay," ...: pacing.py).
    opening = [reply["text"] for reply in replies[:-1]]
    assert opening == first_pieces(" ".join(opening)) and len(replies) in (2, 3)
    for reply in replies:
        duration = wav_seconds(reply["audio"])
        shortest = 0.2 if len(opening) == 2 and reply is replies[0] else 0.3  # "So," alone is short
        assert reply["synthetic"] is True and duration == reply["duration"] > shortest
        assert reply["visemes"] and all(0 <= v["t"] <= duration for v in reply["visemes"])
        assert reply["emotion"] == "Happy" and reply["text"]


async def test_a_typed_message_in_german_gets_a_german_reply_spoken_with_german_phonetics(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    """The text-only mode with the language preference, through the whole lite mesh."""
    async with started(*mesh(nats_server.url, redis_server.url)):
        token = await new_user(gateway, "sprecher")
        async with GatewayClient.connect(gateway, token) as client:
            await client.send_json({"type": "preferences", "language": "de", "style": "detailed"})
            await client.send_json({"type": "speech_end", "text": "Meine Arbeit war diese Woche furchtbar"})
            replies: list[dict[str, Any]] = []
            async with asyncio.timeout(60):
                async for _, event in client.events():
                    if event["type"] == "llm_response":
                        replies.append(event)
                        if event["final"]:
                            break
    german = phrases.GERMAN
    # Three sentences; the first may come as two pieces, its opening clause apart ("Danke," ...: pacing.py).
    texts = [reply["text"] for reply in replies]
    opening = texts[:-2]
    assert opening == first_pieces(" ".join(opening)) and len(texts) in (3, 4)
    assert texts[-2] in [r.format(quote="Meine Arbeit war diese Woche furchtbar") for r in german.reflect]
    assert texts[-1] in german.therapist
    for reply in replies:
        duration = wav_seconds(reply["audio"])
        shortest = 0.2 if len(opening) == 2 and reply is replies[0] else 0.5  # "Danke," alone is ~0.35 s
        assert duration > shortest and reply["visemes"] and all(0 <= v["t"] <= duration for v in reply["visemes"])


async def test_speaking_over_a_reply_interrupts_it(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    slow = FakeLlm(
        reply="Here is my first thought. Here is a second one. And a third one follows. A fourth as well.",
        token_delay_s=0.25,
    )
    async with running(slow) as fake:
        dialogue = DialogueSettings(
            nats_url=nats_server.url, redis_url=redis_server.url, backend="openai", base_url=fake.base_url, api_key="k"
        )
        async with started(*mesh(nats_server.url, redis_server.url, dialogue)):
            token = await new_user(gateway, "interrupter")
            async with GatewayClient.connect(gateway, token) as client:
                await client.send_json({"type": "speech_end", "text": "Tell me what you think about my plan"})
                events: list[dict[str, Any]] = []
                async with asyncio.timeout(60):
                    async for _, event in client.events():
                        events.append(event)
                        if event["type"] == "llm_response":
                            break
                first = events[-1]
                interrupted_at = time.monotonic()
                speech = sentences_with_pauses(["Wait, stop, I have a question"], 0.2).tobytes()
                sending = asyncio.create_task(client.stream_audio(speech, chunk_ms=40, realtime=True))
                interrupt = None
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(12):
                        async for _, event in client.events():
                            events.append(event)
                            if event["type"] == "interrupt":
                                interrupt = event
                                interrupted_at = time.monotonic()
                await sending
    assert interrupt is not None and interrupt["turn_id"] == first["turn_id"]
    later = [e for e in events if e["type"] == "llm_response" and e["turn_id"] == first["turn_id"]]
    assert later[-1]["index"] < 3, "the rest of the interrupted reply must not be played"
    assert not any(e.get("final") for e in later)
    assert interrupted_at > 0


MEDIA_SIGNATURES = {
    "jpeg": re.compile(rb"\xff\xd8\xff[\xdb\xe0\xe1\xee]"),
    "png": re.compile(rb"\x89PNG\r\n\x1a\n"),
    "wav": re.compile(rb"RIFF....WAVE", re.DOTALL),
    "ogg": re.compile(rb"OggS\x00"),
    "webm": re.compile(rb"\x1a\x45\xdf\xa3"),
    "flac": re.compile(rb"fLaC\x00"),
}
LARGEST_VALUE = 64 * 1024
CANARY = "My zebracorn canary is called Pim"


def media_in(blob: bytes, samples: list[bytes]) -> list[str]:
    """Media file signatures, and verbatim slices of the media this test sent, found in `blob`."""
    hits = [name for name, pattern in MEDIA_SIGNATURES.items() if pattern.search(blob)]
    return hits + [f"sent bytes #{i}" for i, sample in enumerate(samples) if sample in blob]


async def redis_dump(redis: Any) -> dict[bytes, bytes]:
    values: dict[bytes, bytes] = {}
    async for key in redis.scan_iter(match="*"):
        kind = (await redis.type(key)).decode()
        if kind == "string":
            values[key] = await redis.get(key) or b""
        elif kind == "list":
            values[key] = b"\n".join(await redis.lrange(key, 0, -1))
        elif kind == "hash":
            values[key] = b"\n".join(k + b"=" + v for k, v in (await redis.hgetall(key)).items())
        elif kind == "zset":
            values[key] = b"\n".join(await redis.zrange(key, 0, -1))
        elif kind == "set":
            values[key] = b"\n".join(await redis.smembers(key))
    return values


async def test_a_scripted_session_leaves_no_media_anywhere_and_no_words_in_the_logs(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """TARGETS.md P1: login, frames, speech, replies, logout; then the database, Redis, the JetStream store
    and the logs hold no media, by file signature, by verbatim slices of what was sent, and by size; the
    logs (captured at DEBUG) hold none of the person's words, spoken or typed, nor the password or token (P2)."""
    caplog.set_level(logging.DEBUG)
    quiet_payload_loggers()  # as every process does at start (here as if MRRRME_LOG_LEVEL=DEBUG)
    state = APPS[gateway].state.gateway
    memory = MemoryService(
        MemorySettings(nats_url=nats_server.url, redis_url=redis_server.url, database_url=state.settings.database_url)
    )
    frame = astronaut()
    speech = sentences_with_pauses(["I am so happy to see you today"], 1.0).tobytes()
    sent = [frame[len(frame) // 2 : len(frame) // 2 + 48], speech[len(speech) // 2 : len(speech) // 2 + 48]]
    async with started(*mesh(nats_server.url, redis_server.url), memory):
        token = await new_user(gateway, "scanned")
        async with GatewayClient.connect(gateway, token) as client:
            for _ in range(5):
                await client.send_frame(frame)
            await client.stream_audio(speech, chunk_ms=100, realtime=False)
            async with asyncio.timeout(90):
                async for _, event in client.events():
                    if event["type"] == "llm_response" and event["final"]:
                        break
            await client.send_json({"type": "speech_end", "text": CANARY})
            async with asyncio.timeout(90):
                async for _, event in client.events():
                    if event["type"] == "llm_response" and event["final"]:
                        break
            async with httpx.AsyncClient(base_url=gateway, headers={"Authorization": f"Bearer {token}"}) as http:
                assert (await http.post("/api/logout")).status_code == 204
        async with asyncio.timeout(30):  # the memory service has written the turn and the summary
            while True:
                async with state.db.session() as db:
                    if await db.scalar(select(func.count()).select_from(Summary)):
                        break
                await asyncio.sleep(0.2)
    findings: dict[str, list[str]] = {}
    url = make_url(async_url(state.settings.database_url))
    database_files = list(Path(str(url.database)).parent.glob("mrrrme.db*"))
    assert database_files, "the SQLite file is where the settings say"
    for path in database_files:
        findings[str(path)] = media_in(path.read_bytes(), sent)
    async with state.db.session() as db:
        assert await db.scalar(select(func.count()).select_from(Message)), "the turn was stored"
    for key, value in (await redis_dump(state.redis)).items():
        findings[f"redis {key!r}"] = media_in(value, sent) + (["> 64 KiB"] if len(value) > LARGEST_VALUE else [])
    assert nats_server.workdir is not None
    for path in (nats_server.workdir / "jetstream").rglob("*"):
        if path.is_file():
            # The reply audio stream holds the avatar's synthetic speech for a moment, by design: any media
            # signature in its samples is chance. What the person sent must not be there either.
            synthetic = subjects.REPLY_AUDIO_STREAM in path.parts
            hits = media_in(path.read_bytes(), sent)
            findings[str(path)] = [hit for hit in hits if hit.startswith("sent")] if synthetic else hits
    for stream in await state.js.streams_info():
        media = [s for s in stream.config.subjects or [] if ".frame." in s or ".utterance." in s]
        findings[f"stream {stream.config.name}"] = media
    logs = caplog.text + repr(caplog.records)
    findings["logs"] = media_in(logs.encode(), sent)
    # TARGETS.md P2: what the person said or typed, their password and their token are not logged either
    findings["logged words"] = [
        w for w in ("zebracorn", "happy to see you", PASSWORD, token) if w.lower() in logs.lower()
    ]
    assert {where: hits for where, hits in findings.items() if hits} == {}
    assert len(findings) > 5, "the scan looked at the database, Redis, the stream store and the logs"
