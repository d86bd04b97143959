"""The perception mesh end to end: the Python client streams a face and speech through the real gateway,
the four lite services answer over real NATS, and the client gets each modality's event."""

from __future__ import annotations

import asyncio
import contextlib
import re
from typing import Any

from gateway.client import GatewayClient
from mrrrme.runtime import Service
from mrrrme.stack.infra import NatsServer
from services.asr.service import AsrService
from services.asr.settings import AsrSettings
from services.face.service import FaceService
from services.face.settings import FaceSettings
from services.text.service import TextService
from services.text.settings import TextSettings
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings
from tests.accounts import new_user
from tests.images import astronaut
from tests.speech import sentences_with_pauses


async def test_client_gets_face_voice_transcript_and_text_events(gateway: str, nats_server: NatsServer) -> None:
    url = nats_server.url
    services: list[Service[Any]] = [
        FaceService(FaceSettings(nats_url=url, backend="lite", max_frame_age_ms=10_000)),
        VoiceService(VoiceSettings(nats_url=url, backend="lite")),
        AsrService(AsrSettings(nats_url=url, backend="lite")),
        TextService(TextSettings(nats_url=url, backend="lite")),
    ]
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service)
        token = await new_user(gateway, "perceiver")
        async with GatewayClient.connect(gateway, token) as client:
            speech = sentences_with_pauses(["I am so happy to see you today"], 1.0).tobytes()
            seen: dict[str, dict[str, Any]] = {}

            async def listen() -> None:
                async for _, event in client.events():
                    seen.setdefault(event["type"], event)
                    if {"face_emotion", "voice_emotion", "transcript", "text_emotion"} <= seen.keys():
                        return

            listening = asyncio.create_task(listen())
            for _ in range(3):
                await client.send_frame(astronaut())
            await client.stream_audio(speech, chunk_ms=100, realtime=False)
            try:
                await asyncio.wait_for(listening, 60)
            except TimeoutError:
                raise AssertionError(f"events seen: {sorted(seen)}") from None
    face, transcript = seen["face_emotion"], seen["transcript"]
    assert face["emotion"] == "Happy" and face["faces"] == 1 and face["quality"] > 0.5
    # Whatever the recogniser's casing and punctuation (Whisper writes both, pocketsphinx neither).
    assert " ".join(re.sub(r"[^a-z' ]", " ", transcript["text"].lower()).split()) == "i am so happy to see you today"
    assert seen["text_emotion"]["emotion"] == "Happy"
    assert seen["text_emotion"]["utterance_id"] == transcript["utterance_id"] == seen["voice_emotion"]["utterance_id"]
    assert seen["voice_emotion"]["speech"] is True and seen["voice_emotion"]["emotion"] is not None
