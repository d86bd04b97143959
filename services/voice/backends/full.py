"""Full voice emotion: a HuBERT (or wav2vec2) audio classifier by Hugging Face id or local path.

superb/hubert-large-superb-er predicts IEMOCAP's neu/hap/ang/sad; any audio-classification checkpoint
whose labels `mrrrme.emotions.to_four` knows works the same way. A batch is padded to its longest clip
(the feature extractor returns the attention mask when the model wants one).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrrrme.backends import hub_model_available, missing_weights, require, resolve_device


class HubertBackend:
    name = "full"

    def __init__(self, model: str, device: str) -> None:
        torch = require("torch", "full")
        transformers = require("transformers", "full")
        if not hub_model_available(model):
            raise missing_weights(model, "voice")
        self._torch = torch
        self.device = resolve_device(device)
        self._extractor: Any = transformers.AutoFeatureExtractor.from_pretrained(model)
        self._model: Any = transformers.AutoModelForAudioClassification.from_pretrained(model)
        self._model.to(self.device).eval()
        self._labels = [self._model.config.id2label[i] for i in range(self._model.config.num_labels)]

    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        if not clips:
            return []
        inputs = self._extractor(
            clips, sampling_rate=16000, padding=True, return_tensors="pt", return_attention_mask=True
        ).to(self.device)
        with self._torch.inference_mode():
            probabilities = self._model(**inputs).logits.softmax(dim=-1).float().cpu().numpy()
        return [dict(zip(self._labels, map(float, row), strict=True)) for row in probabilities]
