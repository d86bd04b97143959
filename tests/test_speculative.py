"""Speculative recognition, asr's side: early audio is recognised for the gateway alone, and an utterance
that carries its early transcript is answered with it, without recognising the audio again."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import msgspec
import numpy as np
import pytest
from nats.aio.client import Client as NATS

from gateway.client import GatewayClient
from gateway.vad import Segmenter
from mrrrme import subjects
from mrrrme.contracts import ErrorEvent, Transcript, Utterance, encode, new_id
from mrrrme.runtime import BadInput
from mrrrme.stack.infra import NatsServer, RedisServer
from services.asr.service import AsrService
from services.asr.settings import AsrSettings
from tests.accounts import new_user
from tests.conftest import APPS
from tests.mesh import inbox, started
from tests.speech import silence, synthesize
from tests.test_turn import voiced


def unit(session: str, pcm: bytes, early: Transcript | None = None) -> Utterance:
    return Utterance(session_id=session, utterance_id=new_id(), pcm=pcm, started_at=0, ended_at=1, language="en",
                     early=early)  # fmt: skip


def early(session: str, text: str) -> Transcript:
    return Transcript(session_id=session, utterance_id=new_id(), text=text, language="en", no_speech_prob=0.01)


@pytest.fixture(scope="module")
def asr() -> AsrService:
    service = AsrService(AsrSettings())
    service.load()
    return service


def test_an_early_transcript_stands_for_the_audio(asr: AsrService) -> None:
    # One second of silence would be recognised as nothing: the answer can only come from the early text.
    quiet = unit("sp1", silence(1.0).tobytes(), early("sp1", "can you help me relax"))
    (answer,) = asr.process([quiet])
    assert isinstance(answer, Transcript)
    assert answer.text == "can you help me relax" and answer.utterance_id == quiet.utterance_id
    assert (answer.started_at, answer.ended_at, answer.source) == (0, 1, "asr")
    (plain,) = asr.process([unit("sp1", silence(1.0).tobytes())])
    assert isinstance(plain, Transcript) and plain.text == ""


def test_an_early_transcript_of_another_session_is_refused(asr: AsrService) -> None:
    (answer,) = asr.process([unit("sp1", silence(1.0).tobytes(), early("other", "not yours"))])
    assert isinstance(answer, BadInput) and "another session" in answer.message


async def test_early_audio_is_answered_to_the_requester_only(nats_server: NatsServer, nc: NATS) -> None:
    published = await inbox(nc, subjects.transcript("sp2"), Transcript)
    async with AsrService(AsrSettings(nats_url=nats_server.url)):
        spoken = unit("sp2", synthesize("thank you for listening to me").tobytes())
        reply = await nc.request(subjects.early_utterance("sp2"), encode(spoken), timeout=30)
        answer = msgspec.msgpack.decode(reply.data, type=Transcript)
        assert answer.text.lower().rstrip(".") == "thank you for listening to me"
        assert answer.utterance_id == spoken.utterance_id
        # Refused early audio is an error reply to the gateway, not an error shown to the session.
        refused = await nc.request(subjects.early_utterance("sp2"), encode(unit("sp2", b"\x00")), timeout=30)
        assert msgspec.msgpack.decode(refused.data, type=ErrorEvent).source == "asr"
    assert published.items == []  # nothing of it was published for fusion and the rest of the mesh


# --- through the gateway: the early transcript of a turn that goes on never reaches anyone -----------


def early_outcomes(gateway_url: str) -> dict[str, float]:
    counter = APPS[gateway_url].state.gateway.metrics.early_transcripts
    return {outcome: counter.labels(outcome)._value.get() for outcome in ("used", "discarded", "failed")}


async def transcripts_of(client: GatewayClient, seconds: float) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            async for _, event in client.events():
                if event["type"] == "transcript":
                    seen.append(event)
    return seen


async def test_a_turn_that_goes_on_after_a_pause_is_one_transcript(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    heard: list[tuple[int, bool | None]] = []
    reported = Segmenter.heard

    def spy(segmenter: Segmenter, speculation: int, unfinished: bool | None) -> None:
        heard.append((speculation, unfinished))
        reported(segmenter, speculation, unfinished)

    monkeypatch.setattr(Segmenter, "heard", spy)
    settings = AsrSettings(nats_url=nats_server.url, redis_url=redis_server.url)
    first, second = voiced(synthesize("I went to the store and")), voiced(synthesize("bought bread."))
    speech = np.concatenate([silence(0.5), first, silence(0.6), second, silence(2.5)]).astype("<i2").tobytes()
    before = early_outcomes(gateway)
    async with started(AsrService(settings)):
        token = await new_user(gateway, "pauser")
        async with GatewayClient.connect(gateway, token) as client:
            listening = asyncio.create_task(transcripts_of(client, 25))
            await client.stream_audio(speech, chunk_ms=40, realtime=True)  # as a microphone sends it
            seen = await listening
    after = early_outcomes(gateway)
    (transcript,) = seen  # one utterance, one transcript: nothing of the half said before the pause
    assert "bread" in transcript["text"].lower() and "store" in transcript["text"].lower()
    # Both silences were speculated on: the pause's early transcript was dropped, the end's one was used.
    assert after["discarded"] - before["discarded"] >= 1
    assert after["used"] - before["used"] == 1 and after["failed"] == before["failed"]
    # Each early transcript's words went back to the segmenter (the word check): the last one, which ended
    # the turn, reads as a finished sentence.
    assert len(heard) >= 2 and heard[-1][1] is False
