from __future__ import annotations

from typing import Protocol

import numpy as np

from services.face.detect import Face


class FaceBackend(Protocol):
    """Classifies faces; called on the service's model thread with a whole micro-batch."""

    def classify(self, crops: list[tuple[np.ndarray, Face]]) -> list[dict[str, float]]:
        """For each (BGR frame, face) pair: the model's own label -> probability."""
        ...
