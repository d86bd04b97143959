"""Full ASR backend: the real faster-whisper loading and decoding code on a tiny Whisper built here.

The model has Whisper's real architecture and tokenizer (51865 ids, rebuilt from openai-whisper's
multilingual.tiktoken) but tiny random weights whose decoder is rigged to always say " hello world":
this proves the plumbing (conversion, loading, VAD filter, word timings, language, events over NATS),
not accuracy. Real distil-whisper weights cannot be fetched here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import Transcript, Utterance, encode, new_id
from mrrrme.stack.infra import NatsServer
from services.asr.backends.full import WhisperBackend
from services.asr.service import AsrService
from services.asr.settings import AsrSettings
from tests.fixtures.tiny_whisper import TIKTOKEN
from tests.fixtures.tiny_whisper import build as build_tiny_whisper
from tests.mesh import inbox
from tests.speech import sentences_with_pauses, silence


@pytest.fixture(scope="module")
def tiny_whisper(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    assert TIKTOKEN.is_file(), "run `make install` (it fetches the Whisper tokenizer file from PyPI)"
    yield build_tiny_whisper(tmp_path_factory.mktemp("whisper"), TIKTOKEN, parrot_text=" hello world")


def settings_for(model: Path, **overrides: object) -> AsrSettings:
    return AsrSettings(backend="full", model=str(model), device="cpu", beam_size=1, **overrides)  # type: ignore[arg-type]


def test_speech_is_transcribed_with_words_and_language(tiny_whisper: Path) -> None:
    backend = WhisperBackend(settings_for(tiny_whisper))
    speech = sentences_with_pauses(["Good morning, how are you?"], 0.3).astype(np.float32) / 32768
    recognition = backend.transcribe(speech, language=None)
    assert recognition.text == "hello world"
    assert recognition.language == "en"
    assert [w.word for w in recognition.words] == ["hello", "world"]
    assert all(0 <= w.start <= w.end for w in recognition.words)
    assert 0.0 <= recognition.no_speech_prob <= 1.0


def test_silence_gives_an_empty_transcript(tiny_whisper: Path) -> None:
    backend = WhisperBackend(settings_for(tiny_whisper))
    recognition = backend.transcribe(silence(3.0).astype(np.float32), language="en")
    assert recognition.text == "" and recognition.words == [] and recognition.no_speech_prob == 1.0


def test_missing_weights_is_one_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="make models"):
        WhisperBackend(settings_for(tmp_path / "nowhere"))
    with pytest.raises(StartupError, match="make models"):
        WhisperBackend(AsrSettings(backend="full", model="distil-large-v3", device="cpu"))


async def test_full_service_publishes_a_well_formed_transcript(
    tiny_whisper: Path, nats_server: NatsServer, nc: NATS
) -> None:
    transcripts = await inbox(nc, subjects.transcript("asrfull"), Transcript)
    speech = sentences_with_pauses(["Please tell me a story."], 0.3)
    unit = Utterance(
        session_id="asrfull",
        utterance_id=new_id(),
        pcm=speech.tobytes(),
        started_at=0,
        ended_at=1,
        language="en",
    )
    async with AsrService(settings_for(tiny_whisper, nats_url=nats_server.url)):
        await nc.publish(subjects.utterance("asrfull"), encode(unit))
        (transcript,) = await transcripts.wait_for(1)
    assert transcript.utterance_id == unit.utterance_id
    assert transcript.text == "hello world" and transcript.language == "en" and len(transcript.words) == 2
