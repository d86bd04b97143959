"""Lite voice emotion: the documented prosody rule of `services.voice.prosody` (no model, no weights)."""

from __future__ import annotations

import numpy as np

from services.voice import prosody
from services.voice.settings import VoiceSettings


class ProsodyBackend:
    def __init__(self, settings: VoiceSettings) -> None:
        """No model to load: the rule is code."""

    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        return [prosody.classify(prosody.measure(clip)) for clip in clips]
