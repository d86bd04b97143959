"""Voice service: the lite prosody rule's documented property, no-speech flagging, bad audio over NATS."""

from __future__ import annotations

import numpy as np
import pytest
from nats.aio.client import Client as NATS
from nats.errors import MaxPayloadError

from mrrrme import subjects
from mrrrme.audio import has_speech
from mrrrme.contracts import ErrorEvent, Utterance, VoiceEmotion, encode, new_id
from mrrrme.stack.infra import NatsServer
from services.voice import prosody
from services.voice.service import VoiceService
from services.voice.settings import VoiceSettings
from tests.mesh import inbox
from tests.speech import silence, synthesize_styled

SENTENCES = [
    "I went to the market this morning and bought some apples.",
    "Nobody listens to me and I am tired of it.",
    "We could meet again next week if you have time.",
]


def as_float(samples: np.ndarray) -> np.ndarray:
    return samples.astype(np.float32) / 32768.0


@pytest.mark.parametrize("sentence", SENTENCES)
def test_the_rule_tells_calm_speech_from_loud_fast_speech(sentence: str) -> None:
    """The documented property: the same words, calm (quiet, slow) vs loud and fast, read apart."""
    calm = prosody.measure(as_float(synthesize_styled(sentence, length_scale=1.35, volume=0.12)))
    loud = prosody.measure(as_float(synthesize_styled(sentence, length_scale=0.72, volume=2.0)))
    assert prosody.arousal(loud) > prosody.arousal(calm) + 0.25
    calm_scores, loud_scores = prosody.classify(calm), prosody.classify(loud)
    assert max(calm_scores, key=calm_scores.__getitem__) == "sad"
    assert max(loud_scores, key=loud_scores.__getitem__) != "sad"


def test_pitch_of_a_synthetic_tone_is_found() -> None:
    t = np.arange(16000) / 16000
    measured = prosody.measure((0.3 * np.sin(2 * np.pi * 150 * t)).astype(np.float32))
    assert measured.pitch_hz == pytest.approx(150, rel=0.03)


@pytest.mark.parametrize(
    "audio",
    [
        silence(2.0),
        np.random.default_rng(1).normal(0, 2000, 32000).clip(-32768, 32767).astype(np.int16),
        (8000 * np.sin(2 * np.pi * 50 * np.arange(32000) / 16000)).astype(np.int16),
    ],
    ids=["silence", "white-noise", "mains-hum"],
)
def test_silence_and_noise_are_not_speech(audio: np.ndarray) -> None:
    assert not has_speech(as_float(audio))


def utterance(session: str, pcm: bytes) -> Utterance:
    return Utterance(session_id=session, utterance_id=new_id(), pcm=pcm, started_at=0.0, ended_at=1.0)


async def test_service_classifies_speech_flags_silence_and_refuses_bad_audio(nats_server: NatsServer, nc: NATS) -> None:
    events = await inbox(nc, subjects.voice_emotion("voice1"), VoiceEmotion)
    errors = await inbox(nc, subjects.error("voice1"), ErrorEvent)
    async with VoiceService(VoiceSettings(nats_url=nats_server.url, backend="lite")):
        speech = synthesize_styled(SENTENCES[0], length_scale=0.72, volume=2.0)
        clipped = np.where(speech >= 0, 32767, -32768).astype(np.int16)  # a hard-clipped, distorted mic
        # Empty, odd bytes, 31 s (over the 30 s limit; 10 minutes cannot even be published: NATS'
        # max_payload refuses it at the sender, and the gateway cuts utterances at 30 s).
        for pcm in (b"", b"\x01\x02\x03", bytes(2 * 16000 * 31)):
            await nc.publish(subjects.utterance("voice1"), encode(utterance("voice1", pcm)))
        await nc.publish(subjects.utterance("voice1"), encode(utterance("voice1", speech.tobytes())))
        await nc.publish(subjects.utterance("voice1"), encode(utterance("voice1", silence(1.5).tobytes())))
        await nc.publish(subjects.utterance("voice1"), encode(utterance("voice1", clipped.tobytes())))
        await errors.wait_for(3)
        await events.wait_for(3)
    assert sorted(e.code for e in errors.items) == ["audio_too_long", "empty_audio", "invalid_audio"]
    spoken, quiet, distorted = events.items
    assert spoken.speech and spoken.reading is not None and spoken.reading.emotion != "Sad"
    assert not quiet.speech and quiet.reading is None
    with pytest.raises(MaxPayloadError):
        await nc.publish(subjects.utterance("voice1"), encode(utterance("voice1", bytes(2 * 16000 * 600))))
    assert distorted.reading is None or distorted.reading.emotion in ("Neutral", "Happy", "Sad", "Angry")
