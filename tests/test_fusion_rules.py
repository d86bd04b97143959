"""The fusion rules on hand-made inputs: weights, adjustments, renormalisation, conflict, masking."""

from __future__ import annotations

import pytest

from mrrrme.contracts import EmotionReading, reading_from_probabilities
from services.fusion.rules import FusionWeights, Inputs, aggregate_faces, fuse, mean_duchenne, weights_for


def r(neutral: float, happy: float, sad: float, angry: float) -> EmotionReading:
    return reading_from_probabilities([neutral, happy, sad, angry])


HAPPY = r(0.1, 0.8, 0.05, 0.05)
SAD = r(0.1, 0.05, 0.8, 0.05)
ANGRY = r(0.1, 0.05, 0.05, 0.8)
NEUTRAL = r(0.7, 0.1, 0.1, 0.1)
LONG = 40


def test_base_weights_are_40_30_30() -> None:
    w = weights_for(Inputs(face=HAPPY, face_quality=0.9, voice=HAPPY, text=HAPPY, text_chars=LONG), FusionWeights())
    assert w == pytest.approx({"face": 0.4, "voice": 0.3, "text": 0.3})


def test_low_face_quality_scales_face_by_0_7_then_renormalises() -> None:
    w = weights_for(Inputs(face=HAPPY, face_quality=0.3, voice=HAPPY, text=HAPPY, text_chars=LONG), FusionWeights())
    total = 0.4 * 0.7 + 0.3 + 0.3
    assert w == pytest.approx({"face": 0.28 / total, "voice": 0.3 / total, "text": 0.3 / total})


def test_no_speech_halves_voice_and_short_text_scales_text_by_0_7() -> None:
    w = weights_for(
        Inputs(face=HAPPY, face_quality=0.9, voice=HAPPY, speech=False, text=HAPPY, text_chars=5), FusionWeights()
    )
    total = 0.4 + 0.15 + 0.21
    assert w == pytest.approx({"face": 0.4 / total, "voice": 0.15 / total, "text": 0.21 / total})


def test_a_missing_modality_weighs_nothing() -> None:
    w = weights_for(Inputs(voice=SAD, text=SAD, text_chars=LONG), FusionWeights())
    assert w == pytest.approx({"face": 0.0, "voice": 0.5, "text": 0.5})
    assert fuse(Inputs()) is None


def test_fused_distribution_is_the_weighted_average() -> None:
    result = fuse(Inputs(face=HAPPY, face_quality=0.9, voice=NEUTRAL, text=HAPPY, text_chars=LONG))
    assert result is not None
    expected = [0.4 * h + 0.3 * n + 0.3 * h for h, n in zip(HAPPY.probabilities, NEUTRAL.probabilities, strict=True)]
    assert result.probabilities == pytest.approx(expected)
    assert result.emotion == "Happy" and result.intensity == pytest.approx(max(expected))
    assert not result.conflict and not result.masking


def test_configurable_base_weights() -> None:
    base = FusionWeights(face=0.2, voice=0.4, text=0.4)
    w = weights_for(Inputs(face=HAPPY, face_quality=0.9, voice=SAD, text=SAD, text_chars=LONG), base)
    assert w == pytest.approx({"face": 0.2, "voice": 0.4, "text": 0.4})


def test_conflict_when_confident_modalities_disagree() -> None:
    result = fuse(Inputs(face=NEUTRAL, face_quality=0.9, voice=ANGRY, text=HAPPY, text_chars=LONG))
    assert result is not None and result.conflict
    assert any("voice says Angry" in e and "text" in e for e in result.evidence)


def test_no_conflict_when_one_side_is_unsure() -> None:
    unsure = r(0.3, 0.2, 0.3, 0.2)
    result = fuse(Inputs(voice=ANGRY, text=unsure, text_chars=LONG))
    assert result is not None and not result.conflict


@pytest.mark.parametrize("hidden, where", [(SAD, "voice"), (ANGRY, "text")])
def test_masking_is_a_happy_face_over_sad_or_angry_voice_or_words(hidden: EmotionReading, where: str) -> None:
    voice, text = (hidden, None) if where == "voice" else (None, hidden)
    inputs = Inputs(face=HAPPY, face_quality=0.9, voice=voice, text=text, text_chars=LONG)
    if where == "voice":
        inputs = Inputs(face=HAPPY, face_quality=0.9, voice=hidden, text=NEUTRAL, text_chars=LONG)
    result = fuse(inputs)
    assert result is not None and result.masking
    assert any(e.startswith("masking: happy face") and where in e for e in result.evidence)


@pytest.mark.parametrize(
    "cue, expected", [(0.05, "smile without eye involvement"), (0.6, "yet the smile reaches the eyes"), (None, None)]
)
def test_the_landmarks_smile_cue_is_cited_as_masking_evidence(cue: float | None, expected: str | None) -> None:
    inputs = Inputs(face=HAPPY, face_quality=0.9, voice=SAD, text=SAD, text_chars=LONG, face_duchenne=cue)
    result = fuse(inputs)
    assert result is not None and result.masking  # the cue is evidence, never the cause
    cited = [e for e in result.evidence if "Duchenne" in e]
    assert cited[0].split(": ", 1)[1].startswith(expected) if expected else cited == []
    calm = fuse(Inputs(face=HAPPY, face_quality=0.9, voice=HAPPY, text_chars=LONG, face_duchenne=0.05))
    assert calm is not None and not calm.masking and not any("Duchenne" in e for e in calm.evidence)


def test_mean_duchenne_skips_faces_without_landmarks() -> None:
    assert mean_duchenne([None, 0.2, 0.4]) == pytest.approx(0.3) and mean_duchenne([None]) is None


def test_a_sad_face_over_happy_words_is_not_masking() -> None:
    result = fuse(Inputs(face=SAD, face_quality=0.9, text=HAPPY, text_chars=LONG))
    assert result is not None and not result.masking and result.conflict


def test_faces_during_an_utterance_are_averaged_by_quality() -> None:
    aggregated = aggregate_faces([(HAPPY, 0.9), (SAD, 0.1)])
    assert aggregated is not None
    reading, quality = aggregated
    assert reading.emotion == "Happy"
    assert reading.probabilities[1] == pytest.approx((0.9 * 0.8 + 0.1 * 0.05) / 1.0)
    assert quality == pytest.approx(0.5)
    assert aggregate_faces([]) is None


def test_a_neutral_modality_is_not_a_conflict() -> None:
    result = fuse(Inputs(face=HAPPY, face_quality=0.9, voice=NEUTRAL, text_chars=LONG))
    assert result is not None and not result.conflict
