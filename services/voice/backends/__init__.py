"""Voice emotion backends, by name (`MRRRME_VOICE_BACKEND`); each is built as `Class(settings)`."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from mrrrme.registry import Backends, BackendSpec


class VoiceBackend(Protocol):
    def classify(self, clips: list[np.ndarray]) -> list[dict[str, float]]:
        """For each speech clip (float32, 16 kHz): the model's own label -> probability."""
        ...


BACKENDS: Backends[VoiceBackend] = Backends(
    "voice",
    BackendSpec(
        "lite",
        "services.voice.backends.lite:ProsodyBackend",
        "prosody rule (loudness, syllable rate, pitch spread), no model",
        profiles=("lite",),
    ),
    BackendSpec(
        "full",
        "services.voice.backends.full:HubertBackend",
        "HuBERT-large speech emotion (superb/hubert-large-superb-er) through transformers",
        profiles=("full",),
        gpu=True,
        fetch="mrrrme.hub:fetch_weights",
    ),
)
