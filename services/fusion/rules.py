"""The fusion rules: quality-aware weights, the weighted average, conflict and masking detection.

Pure functions on hand-made inputs (tests/test_fusion.py); the service only gathers the inputs.

Weights (the seed's rules, `FusionWeights` to configure):
1. base: face 0.4, voice 0.3, text 0.3;
2. face quality below 0.5: face weight x 0.7;
3. no speech in the utterance: voice weight x 0.5 (and a missing voice reading counts as absent);
4. text shorter than 10 characters: text weight x 0.7;
5. a modality with no reading gets weight 0;
6. the weights are renormalised to sum to 1.

Fused probabilities are the weighted average of the 4-class distributions; the emotion is its top
class and the intensity its probability. Weights fitted on data (`MRRRME_FUSION_WEIGHTS_FILE`,
services/fusion/learned.py) either replace the six numbers above or, for a learned `LateFusion` model,
the weighted average itself; conflict and masking stay these rules either way.

Conflict: two present modalities each confident (top probability >= `CONFIDENT`) in different
*emotional* classes (a neutral modality is merely unexpressive, not contradicting) whose distributions
are far apart (total variation distance >= `FAR_APART`).
Masking: a confidently Happy face while the voice or the words confidently say Sad or Angry: the smile
may be covering how the person feels. Both come with human-readable evidence.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np

from mrrrme.contracts import EMOTIONS, EmotionReading
from mrrrme.emotions import CONFIDENT

FAR_APART = 0.5
LOW_FACE_QUALITY = 0.5
SHORT_TEXT_CHARS = 10
FELT_SMILE = 0.3
"""A Duchenne cue (smile with narrowed eyes, from the face landmarks) below this: the smile does not
reach the eyes. Evidence for masking, never its cause: the cue is a landmark-geometry approximation."""


@dataclass(frozen=True)
class FusionWeights:
    face: float = 0.4
    voice: float = 0.3
    text: float = 0.3
    low_quality_face_factor: float = 0.7
    no_speech_voice_factor: float = 0.5
    short_text_factor: float = 0.7


@dataclass(frozen=True)
class Inputs:
    face: EmotionReading | None = None
    face_quality: float = 0.0
    voice: EmotionReading | None = None
    speech: bool = True
    text: EmotionReading | None = None
    text_chars: int = 0
    face_duchenne: float | None = None
    """The mean Duchenne cue of the faces read, when the face service measured landmarks."""


@dataclass(frozen=True)
class Fusion:
    emotion: str
    intensity: float
    probabilities: list[float]
    weights: dict[str, float]
    conflict: bool
    masking: bool
    evidence: list[str]


def weights_for(inputs: Inputs, base: FusionWeights) -> dict[str, float]:
    raw = {
        "face": base.face if inputs.face is not None else 0.0,
        "voice": base.voice if inputs.voice is not None else 0.0,
        "text": base.text if inputs.text is not None else 0.0,
    }
    if inputs.face is not None and inputs.face_quality < LOW_FACE_QUALITY:
        raw["face"] *= base.low_quality_face_factor
    if not inputs.speech:
        raw["voice"] *= base.no_speech_voice_factor
    if inputs.text is not None and inputs.text_chars < SHORT_TEXT_CHARS:
        raw["text"] *= base.short_text_factor
    total = sum(raw.values())
    return {name: (value / total if total > 0 else 0.0) for name, value in raw.items()}


def _total_variation(a: list[float], b: list[float]) -> float:
    return 0.5 * float(np.abs(np.asarray(a) - np.asarray(b)).sum())


class LateFusion(Protocol):
    """A learned combiner (services/fusion/learned.py) in place of the weighted average."""

    def combine(self, inputs: Inputs) -> tuple[list[float], dict[str, float]]:
        """Fused probabilities over EMOTIONS, and each modality's share for the event's weights."""
        ...


def fuse(inputs: Inputs, base: FusionWeights | LateFusion | None = None) -> Fusion | None:
    """The fused estimate, or None when no modality has a reading."""
    method = base if base is not None else FusionWeights()
    readings = {"face": inputs.face, "voice": inputs.voice, "text": inputs.text}
    if isinstance(method, FusionWeights):
        weights = weights_for(inputs, method)
        present = {name: r for name, r in readings.items() if r is not None and weights[name] > 0}
        if not present:
            return None
        fused = sum(weights[name] * np.asarray(r.probabilities) for name, r in present.items())
        fused = np.asarray(fused) / float(np.sum(fused))
    else:
        present = {name: r for name, r in readings.items() if r is not None}
        if not present:
            return None
        probabilities, weights = method.combine(inputs)
        fused = np.asarray(probabilities)
    top = int(np.argmax(fused))
    conflict, masking, evidence = flags(present, inputs.face_duchenne)
    fused = np.clip(fused, 0.0, 1.0)  # rounding must not step outside the contract's [0, 1]
    return Fusion(
        emotion=EMOTIONS[top],
        intensity=float(fused[top]),
        probabilities=[float(p) for p in fused],
        weights={name: min(1.0, w) for name, w in weights.items()},
        conflict=conflict,
        masking=masking,
        evidence=evidence,
    )


def flags(present: dict[str, EmotionReading], face_duchenne: float | None) -> tuple[bool, bool, list[str]]:
    """Conflict and masking among the modalities that count, with their evidence."""
    evidence: list[str] = []
    conflict = False
    names = sorted(present)
    for i, first in enumerate(names):
        for second in names[i + 1 :]:
            a, b = present[first], present[second]
            distance = _total_variation(a.probabilities, b.probabilities)
            if (
                a.emotion != b.emotion
                and "Neutral" not in (a.emotion, b.emotion)
                and a.confidence >= CONFIDENT
                and b.confidence >= CONFIDENT
                and distance >= FAR_APART
            ):
                conflict = True
                evidence.append(
                    f"conflict: {first} says {a.emotion} ({a.confidence:.2f}), {second} says {b.emotion} "
                    f"({b.confidence:.2f}), distance {distance:.2f}"
                )
    masking = False
    face = present.get("face")
    if face is not None and face.emotion == "Happy" and face.confidence >= CONFIDENT:
        for name in ("voice", "text"):
            other = present.get(name)
            if other is not None and other.emotion in ("Sad", "Angry") and other.confidence >= CONFIDENT:
                masking = True
                evidence.append(
                    f"masking: happy face ({face.confidence:.2f}) over {other.emotion.lower()} {name} "
                    f"({other.confidence:.2f})"
                )
        if masking and face_duchenne is not None:
            evidence.append(
                f"masking: smile without eye involvement (Duchenne cue {face_duchenne:.2f})"
                if face_duchenne < FELT_SMILE
                else f"masking: yet the smile reaches the eyes (Duchenne cue {face_duchenne:.2f})"
            )
    return conflict, masking, evidence


def aggregate_faces(readings: list[tuple[EmotionReading, float]]) -> tuple[EmotionReading, float] | None:
    """Quality-weighted mean of the face readings seen during an utterance, with their mean quality."""
    if not readings:
        return None
    qualities = np.array([max(q, 1e-3) for _, q in readings])
    mean = np.clip(
        (qualities[:, None] * np.array([r.probabilities for r, _ in readings])).sum(0) / qualities.sum(), 0, 1
    )
    top = int(np.argmax(mean))
    reading = EmotionReading(
        emotion=EMOTIONS[top],  # type: ignore[arg-type]
        confidence=float(mean[top]),
        probabilities=[float(p) for p in mean],
    )
    return reading, float(np.mean([q for _, q in readings]))


def mean_duchenne(cues: list[float | None]) -> float | None:
    """The mean Duchenne cue of the faces that have one (None: no landmarks were measured)."""
    measured = [cue for cue in cues if cue is not None]
    return float(np.mean(measured)) if measured else None
