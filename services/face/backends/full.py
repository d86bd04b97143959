"""Full face expression: a ViT image classifier by Hugging Face id or local path (trpakov/vit-face-expression).

Loaded once with the Auto classes, so any image-classification checkpoint with FER-style labels works;
its labels are mapped to the four classes by `mrrrme.emotions.to_four`.
"""

from __future__ import annotations

import numpy as np

from mrrrme.hub import HubClassifier
from services.face.detect import Face
from services.face.settings import FaceSettings

MARGIN = 0.15
"""Context around the detector's box: ViT face-expression models are trained on loosely cropped faces."""


def crop_rgb(frame: np.ndarray, face: Face) -> np.ndarray:
    x, y, w, h = face.box
    mx, my = int(w * MARGIN), int(h * MARGIN)
    crop = frame[max(0, y - my) : y + h + my, max(0, x - mx) : x + w + mx]
    return np.ascontiguousarray(crop[..., ::-1])  # BGR -> RGB


class VitBackend(HubClassifier):
    def __init__(self, settings: FaceSettings) -> None:
        super().__init__(
            settings.model,
            settings.device,
            "face",
            model_class="AutoModelForImageClassification",
            processor_class="AutoImageProcessor",
        )

    def classify(self, crops: list[tuple[np.ndarray, Face]]) -> list[dict[str, float]]:
        if not crops:
            return []
        images = [crop_rgb(frame, face) for frame, face in crops]
        return self.probabilities(self.processor(images=images, return_tensors="pt"))
