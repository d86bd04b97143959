"""The whole loop over real NATS and Redis with the lite profile: the person speaks, the avatar answers;
and barge-in: speaking over a reply stops it."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import io
import time
import wave
from collections.abc import AsyncIterator
from typing import Any

from gateway.client import GatewayClient
from mrrrme.runtime import Service
from mrrrme.stack.infra import NatsServer, RedisServer
from services.asr.service import build as build_asr
from services.asr.settings import AsrSettings
from services.dialogue.service import build as build_dialogue
from services.dialogue.settings import DialogueSettings
from services.face.service import build as build_face
from services.face.settings import FaceSettings
from services.fusion.service import build as build_fusion
from services.fusion.settings import FusionSettings
from services.text.service import build as build_text
from services.text.settings import TextSettings
from services.tts.service import build as build_tts
from services.tts.settings import TtsSettings
from services.voice.service import build as build_voice
from services.voice.settings import VoiceSettings
from tests.accounts import new_user
from tests.fake_llm import FakeLlm, running
from tests.images import astronaut
from tests.speech import sentences_with_pauses


@contextlib.asynccontextmanager
async def started(*services: Service) -> AsyncIterator[None]:
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service)
        yield


def mesh(nats_url: str, redis_url: str, dialogue: DialogueSettings | None = None) -> list[Service]:
    common = {"nats_url": nats_url, "redis_url": redis_url}
    return [
        build_face(FaceSettings(**common, backend="lite", max_frame_age_ms=10_000)),  # type: ignore[arg-type]
        build_voice(VoiceSettings(**common, backend="lite")),  # type: ignore[arg-type]
        build_asr(AsrSettings(**common, backend="lite")),  # type: ignore[arg-type]
        build_text(TextSettings(**common, backend="lite")),  # type: ignore[arg-type]
        build_fusion(FusionSettings(**common)),  # type: ignore[arg-type]
        build_dialogue(dialogue or DialogueSettings(**common, backend="lite")),  # type: ignore[arg-type]
        build_tts(TtsSettings(**common, backend="lite")),  # type: ignore[arg-type]
    ]


def wav_seconds(encoded: str) -> float:
    with wave.open(io.BytesIO(base64.b64decode(encoded))) as audio:
        return audio.getnframes() / audio.getframerate()


async def test_speech_and_a_face_get_emotions_then_a_spoken_lip_synced_reply(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    async with started(*mesh(nats_server.url, redis_server.url)):
        token = await new_user(gateway, "speaker")
        async with GatewayClient.connect(gateway, token) as client:
            events: list[dict[str, Any]] = []

            async def listen() -> None:
                async for _, event in client.events():
                    events.append(event)
                    if event["type"] == "llm_response" and event["final"]:
                        return

            listening = asyncio.create_task(listen())
            await client.send_json({"type": "preferences", "style": "balanced"})
            for _ in range(3):
                await client.send_frame(astronaut())
            async with asyncio.timeout(30):  # the camera runs before the person speaks
                while not any(e["type"] == "face_emotion" for e in events):
                    await asyncio.sleep(0.05)
            speech = sentences_with_pauses(["I am so happy to see you today"], 1.0).tobytes()
            await client.stream_audio(speech, chunk_ms=100, realtime=False)
            try:
                await asyncio.wait_for(listening, 90)
            except TimeoutError:
                raise AssertionError(f"events: {[e['type'] for e in events]}") from None
    kinds = [e["type"] for e in events]
    fused_at = next(i for i, e in enumerate(events) if e["type"] == "fused_emotion" and not e["live"])
    transcript = next(e for e in events if e["type"] == "transcript")
    assert transcript["text"] == "i am so happy to see you today"
    for kind in ("transcript", "voice_emotion", "text_emotion", "face_emotion"):
        assert kind in kinds[:fused_at], f"{kind} must come before the fused emotion: {kinds}"
    fused = events[fused_at]
    assert fused["utterance_id"] == transcript["utterance_id"] and fused["emotion"] == "Happy"
    assert fused["modalities"]["face"]["emotion"] == "Happy"  # the faces seen while speaking took part
    replies = [e for e in events[fused_at:] if e["type"] == "llm_response"]
    assert [r["index"] for r in replies] == list(range(len(replies))) and len(replies) == 2
    for reply in replies:
        duration = wav_seconds(reply["audio"])
        assert reply["synthetic"] is True and duration == reply["duration"] > 0.3
        assert reply["visemes"] and all(0 <= v["t"] <= duration for v in reply["visemes"])
        assert reply["emotion"] == "Happy" and reply["text"]


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
