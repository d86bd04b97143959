"""Full text emotion: j-hartmann/emotion-english-distilroberta-base (or any text classifier with known labels)."""

from __future__ import annotations

from mrrrme.hub import HubClassifier
from services.text.settings import TextSettings

MAX_TOKENS = 512


class RobertaBackend(HubClassifier):
    def __init__(self, settings: TextSettings) -> None:
        super().__init__(
            settings.model,
            settings.device,
            "text",
            model_class="AutoModelForSequenceClassification",
            processor_class="AutoTokenizer",
        )

    def classify(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        return self.probabilities(
            self.processor(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
        )
