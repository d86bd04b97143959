"""Lite ASR (pocketsphinx) on real synthesized speech, silence and noise, and over real NATS."""

from __future__ import annotations

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.contracts import ErrorEvent, Transcript, Utterance, encode, new_id
from mrrrme.eval.packaged import edit_distance, words
from mrrrme.stack.infra import NatsServer
from services.asr.backends.lite import SphinxBackend
from services.asr.service import AsrService
from services.asr.settings import AsrSettings
from tests.mesh import inbox
from tests.speech import silence, synthesize

SENTENCES = [
    "I had a really good day at work today",
    "I feel sad and tired",
    "can you help me relax",
    "my name is Alice and I live in Amsterdam",
    "I am worried about my exams next week",
    "thank you for listening to me",
    "I could not sleep last night",
    "we went for a long walk in the park",
]


@pytest.fixture(scope="module")
def sphinx() -> SphinxBackend:
    return SphinxBackend(AsrSettings())


def as_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768


def test_word_error_rate_on_synthesized_speech_is_at_most_25_percent(sphinx: SphinxBackend) -> None:
    errors = total = 0
    for sentence in SENTENCES:
        recognition = sphinx.transcribe(as_float(synthesize(sentence)), "en")
        errors += edit_distance(words(sentence), words(recognition.text))
        total += len(words(sentence))
    assert errors / total <= 0.25  # measured: 3 % with piper's joe voice


def test_words_have_times_inside_the_audio(sphinx: SphinxBackend) -> None:
    audio = as_float(np.concatenate([silence(0.5), synthesize("can you help me relax")]))
    recognition = sphinx.transcribe(audio, "en")
    # piper's synthesis varies a little between runs; the timing is what this test is about.
    assert [w.word for w in recognition.words][-3:] == ["help", "me", "relax"]
    assert recognition.words[0].start >= 0.4  # after the half second of silence
    assert all(a.end <= b.start + 0.01 for a, b in zip(recognition.words, recognition.words[1:], strict=False))
    assert recognition.words[-1].end <= len(audio) / 16000 + 0.01


@pytest.mark.parametrize(
    "audio",
    [
        silence(3.0),
        np.random.default_rng(2).normal(0, 300, 48000).astype(np.int16),
        np.random.default_rng(3).normal(0, 8000, 48000).clip(-32768, 32767).astype(np.int16),
        (6000 * np.sin(2 * np.pi * 50 * np.arange(48000) / 16000)).astype(np.int16),
    ],
    ids=["silence", "quiet-noise", "loud-noise", "mains-hum"],
)
def test_silence_and_noise_give_an_empty_transcript(sphinx: SphinxBackend, audio: np.ndarray) -> None:
    recognition = sphinx.transcribe(as_float(audio), "en")
    assert recognition.text == "" and recognition.words == [] and recognition.no_speech_prob == 1.0


async def test_service_transcribes_and_refuses_bad_audio(nats_server: NatsServer, nc: NATS) -> None:
    transcripts = await inbox(nc, subjects.transcript("asr1"), Transcript)
    errors = await inbox(nc, subjects.error("asr1"), ErrorEvent)

    def unit(pcm: bytes, rate: int = 16000) -> bytes:
        return encode(Utterance(session_id="asr1", utterance_id=new_id(), pcm=pcm, sample_rate=rate,
                                started_at=0, ended_at=1, language="en"))  # fmt: skip

    async with AsrService(AsrSettings(nats_url=nats_server.url, backend="sphinx")):
        for bad in (unit(b""), unit(b"\x00"), unit(bytes(2 * 16000 * 31)), unit(bytes(3200), rate=8000)):
            await nc.publish(subjects.utterance("asr1"), bad)
        await nc.publish(subjects.utterance("asr1"), unit(synthesize("thank you for listening to me").tobytes()))
        await nc.publish(subjects.utterance("asr1"), unit(silence(1.0).tobytes()))
        await errors.wait_for(4)
        spoken, quiet = await transcripts.wait_for(2)
    assert sorted(e.code for e in errors.items) == [
        "audio_too_long",
        "empty_audio",
        "invalid_audio",
        "unsupported_rate",
    ]
    assert spoken.text == "thank you for listening to me" and spoken.language == "en" and len(spoken.words) == 6
    assert quiet.text == "" and quiet.no_speech_prob == 1.0
