"""Voice emotion backends: `lite` (prosody rule) and `full` (HuBERT, superb/hubert-large-superb-er)."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from services.voice.settings import VoiceSettings


class VoiceBackend(Protocol):
    name: str

    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        """For each speech clip (float32, 16 kHz): the model's own label -> probability."""
        ...


def load_backend(settings: VoiceSettings) -> VoiceBackend:
    if settings.backend_name == "full":
        from services.voice.backends.full import HubertBackend

        return HubertBackend(settings.model, settings.device)
    from services.voice.backends.lite import ProsodyBackend

    return ProsodyBackend()
