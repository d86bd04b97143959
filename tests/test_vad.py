"""Silero VAD segmentation on real synthesized speech (piper), silence and noise."""

from __future__ import annotations

import numpy as np
import pytest

from gateway.vad import SAMPLE_RATE, Segmenter, SegmenterConfig, SegmentEvent, SileroVad
from tests.speech import sentences_with_pauses, silence, synthesize

SENTENCES = [
    "Hello there, I had a long day at work.",
    "It was quite stressful, honestly.",
    "Can you help me relax a little?",
]


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


def segment(
    vad: SileroVad, audio: np.ndarray, chunk: int = 640, config: SegmenterConfig | None = None
) -> list[SegmentEvent]:
    segmenter = Segmenter(vad, config, clock=0.0)
    data = audio.astype("<i2").tobytes()
    events: list[SegmentEvent] = []
    for offset in range(0, len(data), chunk * 2):
        events += segmenter.feed(data[offset : offset + chunk * 2])
    return events


def test_sentences_with_pauses_become_one_utterance_each(vad: SileroVad) -> None:
    audio = sentences_with_pauses(SENTENCES, pause_s=1.0)
    events = segment(vad, audio)
    utterances = [e for e in events if e.kind == "utterance"]
    starts = [e for e in events if e.kind == "speech_start"]
    assert len(utterances) == 3 and len(starts) == 3
    assert all(u.reason == "silence" for u in utterances)  # the fixed rule is still the default
    # Each utterance covers its sentence: it lies inside the right stretch of the recording.
    cursor = 1.0
    for sentence, utterance in zip(SENTENCES, utterances, strict=True):
        length = len(synthesize(sentence)) / SAMPLE_RATE
        assert cursor - 0.4 <= utterance.started_at <= cursor + 0.6
        assert cursor + length - 0.5 <= utterance.ended_at <= cursor + length + 0.6
        assert len(utterance.pcm) == round((utterance.ended_at - utterance.started_at) * SAMPLE_RATE) * 2
        cursor += length + 1.0


def test_chunk_size_does_not_change_the_cut(vad: SileroVad) -> None:
    audio = sentences_with_pauses(SENTENCES[:2])
    by_chunk = [[(e.kind, round(e.started_at, 3)) for e in segment(vad, audio, chunk)] for chunk in (160, 512, 1600)]
    assert by_chunk[0] == by_chunk[1] == by_chunk[2]


def test_silence_gives_no_utterance(vad: SileroVad) -> None:
    assert segment(vad, silence(10.0)) == []


@pytest.mark.parametrize("seed", [0, 1])
def test_noise_gives_no_utterance(vad: SileroVad, seed: int) -> None:
    rng = np.random.default_rng(seed)
    white = rng.normal(0, 3000, 10 * SAMPLE_RATE)
    hum = 4000 * np.sin(2 * np.pi * 50 * np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE)
    for noise in (white, hum, white + hum):
        assert [e for e in segment(vad, np.clip(noise, -32768, 32767)) if e.kind == "utterance"] == []


def test_long_speech_is_cut_at_the_maximum_length(vad: SileroVad) -> None:
    speech = np.concatenate([synthesize(" ".join(SENTENCES))] * 3)
    config = SegmenterConfig(max_utterance_s=3.0, min_silence_ms=2000)
    utterances = [e for e in segment(vad, speech, config=config) if e.kind == "utterance"]
    assert len(utterances) >= 3
    assert all(len(u.pcm) / 2 / SAMPLE_RATE <= 3.0 + 0.05 for u in utterances)


def test_flush_emits_the_speech_in_progress(vad: SileroVad) -> None:
    segmenter = Segmenter(vad, clock=0.0)
    speech = np.concatenate([silence(0.5), synthesize(SENTENCES[0])])
    events = segmenter.feed(speech.tobytes())
    assert [e.kind for e in events] == ["speech_start"]
    (utterance,) = segmenter.flush()
    assert utterance.kind == "utterance" and utterance.reason == "flush" and len(utterance.pcm) > SAMPLE_RATE
    assert segmenter.flush() == []
