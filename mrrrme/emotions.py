"""The one mapping from every model's label set to the mesh's four classes.

Models speak different label sets: FER2013 face models (angry, disgust, fear, happy, sad, surprise,
neutral), the j-hartmann text model (anger, disgust, fear, joy, neutral, sadness, surprise) and
superb's IEMOCAP voice model (neu, hap, ang, sad). `to_four` folds any of them into
Neutral/Happy/Sad/Angry by summing probabilities:

| four class | source labels | why |
|---|---|---|
| Angry | angry, anger, ang, disgust | disgust is a hostile, rejecting state, closest to anger in valence and arousal |
| Sad | sad, sadness, fear | fear is negative valence; in a support conversation it calls for the same care as sadness |
| Happy | happy, joy, hap | |
| Neutral | neutral, neu, surprise | surprise has no valence of its own: it is neither positive nor negative |

Unknown labels raise, so a model with a new label set cannot be wired in silently wrong.
"""

from __future__ import annotations

from collections.abc import Mapping

from mrrrme.contracts import EMOTIONS, EmotionReading, reading_from_probabilities

CONFIDENT = 0.5
"""A reading whose top probability reaches this says its emotion (fusion's conflict and masking rules,
and the composer that names what a smile is at odds with)."""

LABEL_TO_FOUR: dict[str, str] = {
    "angry": "Angry", "anger": "Angry", "ang": "Angry", "disgust": "Angry",
    "sad": "Sad", "sadness": "Sad", "fear": "Sad",
    "happy": "Happy", "joy": "Happy", "hap": "Happy",
    "neutral": "Neutral", "neu": "Neutral", "surprise": "Neutral",
}  # fmt: skip


def to_four(scores: Mapping[str, float]) -> list[float]:
    """Probabilities over any known label set -> [Neutral, Happy, Sad, Angry], normalised."""
    totals = dict.fromkeys(EMOTIONS, 0.0)
    for label, score in scores.items():
        key = label.strip().lower()
        if key not in LABEL_TO_FOUR:
            raise ValueError(f"unknown emotion label {label!r}: add it to mrrrme.emotions.LABEL_TO_FOUR")
        totals[LABEL_TO_FOUR[key]] += float(score)
    total = sum(totals.values())
    if not total > 0:
        raise ValueError("scores must have a positive sum")
    return [totals[name] / total for name in EMOTIONS]


def reading(scores: Mapping[str, float]) -> EmotionReading:
    """The 4-class reading of a model's label scores."""
    return reading_from_probabilities(to_four(scores))
