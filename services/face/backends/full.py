"""Full face expression: a ViT image classifier by Hugging Face id or local path (trpakov/vit-face-expression).

Loaded once with the Auto classes, so any image-classification checkpoint with FER-style labels works;
its labels are mapped to the four classes by `mrrrme.emotions.to_four`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mrrrme.backends import hub_model_available, missing_weights, require, resolve_device
from services.face.detect import Face

MARGIN = 0.15
"""Context around the Haar box: ViT face-expression models are trained on loosely cropped faces."""


class VitBackend:
    name = "full"

    def __init__(self, model: str, device: str) -> None:
        torch = require("torch", "full")
        transformers = require("transformers", "full")
        if not hub_model_available(model):
            raise missing_weights(model, "face")
        self._torch = torch
        self.device = resolve_device(device)
        self._processor: Any = transformers.AutoImageProcessor.from_pretrained(model)
        self._model: Any = transformers.AutoModelForImageClassification.from_pretrained(model)
        self._model.to(self.device).eval()
        self._labels = [self._model.config.id2label[i] for i in range(self._model.config.num_labels)]

    def _crop_rgb(self, frame: np.ndarray, face: Face) -> np.ndarray:
        x, y, w, h = face.box
        mx, my = int(w * MARGIN), int(h * MARGIN)
        crop = frame[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx]
        return np.ascontiguousarray(crop[..., ::-1])  # BGR -> RGB

    def classify(self, crops: list[tuple[np.ndarray, Face]]) -> list[dict[str, float]]:
        if not crops:
            return []
        images = [self._crop_rgb(frame, face) for frame, face in crops]
        inputs = self._processor(images=images, return_tensors="pt").to(self.device)
        with self._torch.inference_mode():
            probabilities = self._model(**inputs).logits.softmax(dim=-1).float().cpu().numpy()
        return [dict(zip(self._labels, map(float, row), strict=True)) for row in probabilities]
