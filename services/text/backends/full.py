"""Full text emotion: j-hartmann/emotion-english-distilroberta-base (or any text classifier with known labels)."""

from __future__ import annotations

from typing import Any

from mrrrme.backends import hub_model_available, missing_weights, require, resolve_device

MAX_TOKENS = 512


class RobertaBackend:
    name = "full"

    def __init__(self, model: str, device: str) -> None:
        torch = require("torch", "full")
        transformers = require("transformers", "full")
        if not hub_model_available(model):
            raise missing_weights(model, "text")
        self._torch = torch
        self.device = resolve_device(device)
        self._tokenizer: Any = transformers.AutoTokenizer.from_pretrained(model)
        self._model: Any = transformers.AutoModelForSequenceClassification.from_pretrained(model)
        self._model.to(self.device).eval()
        self._labels = [self._model.config.id2label[i] for i in range(self._model.config.num_labels)]

    def classify(self, texts: list[str]) -> list[dict[str, float]]:
        if not texts:
            return []
        inputs = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt").to(
            self.device
        )
        with self._torch.inference_mode():
            probabilities = self._model(**inputs).logits.softmax(dim=-1).float().cpu().numpy()
        return [dict(zip(self._labels, map(float, row), strict=True)) for row in probabilities]
