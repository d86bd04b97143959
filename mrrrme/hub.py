"""What the full backends share: a Hugging Face classification checkpoint, loaded once and never
downloaded at start-up, that turns a batch of model inputs into label -> probability per item.

The face (ViT), voice (HuBERT) and text (RoBERTa) full backends differ only in their Auto classes and in
how they prepare inputs; loading, the device, the softmax and the label names are here, once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Protocol

from mrrrme.backends import hub_model_available, missing_weights, require, resolve_device


class NamesAModel(Protocol):
    @property
    def model(self) -> str: ...


def fetch_weights(settings: NamesAModel, cache: Path, interactive: bool) -> str:
    """`make models` for a Hugging Face checkpoint: the repository the settings name, into the cache."""
    from huggingface_hub import snapshot_download

    return str(snapshot_download(settings.model))


class HubClassifier:
    """A `transformers` classifier by Hugging Face id or local directory (the Auto classes pick the
    architecture, so any checkpoint whose labels `mrrrme.emotions.to_four` knows works)."""

    def __init__(self, model: str, device: str, service: str, *, model_class: str, processor_class: str) -> None:
        self._torch = require("torch", "full")
        transformers = require("transformers", "full")
        if not hub_model_available(model):
            raise missing_weights(model, service)
        self.device = resolve_device(device)
        self.processor: Any = getattr(transformers, processor_class).from_pretrained(model)
        self.model: Any = getattr(transformers, model_class).from_pretrained(model)
        self.model.to(self.device).eval()
        self.labels = [self.model.config.id2label[i] for i in range(self.model.config.num_labels)]

    def probabilities(self, inputs: Any) -> list[dict[str, float]]:
        """`inputs`: what the processor returned for a batch (tensors); one label -> probability per item."""
        with self._torch.inference_mode():
            rows = self.model(**inputs.to(self.device)).logits.softmax(dim=-1).float().cpu().numpy()
        return [dict(zip(self.labels, map(float, row), strict=True)) for row in rows]
