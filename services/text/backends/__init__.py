"""Text emotion backends: `lite` (sentence embeddings + trained head + lexicon) and `full` (DistilRoBERTa)."""

from __future__ import annotations

from typing import Protocol

from services.text.settings import TextSettings


class TextBackend(Protocol):
    name: str

    def classify(self, texts: list[str]) -> list[dict[str, float]]:
        """For each text: the model's own label -> probability."""
        ...


def load_backend(settings: TextSettings) -> TextBackend:
    if settings.backend_name == "full":
        from services.text.backends.full import RobertaBackend

        return RobertaBackend(settings.model, settings.device)
    from services.text.backends.lite import LiteTextBackend

    return LiteTextBackend()
