"""Speech recognisers: `lite` (pocketsphinx 5, bundled en-us model) and `full` (faster-whisper)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mrrrme.contracts import Word
from services.asr.settings import AsrSettings


@dataclass(frozen=True)
class Recognition:
    text: str
    language: str | None
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)


class AsrBackend(Protocol):
    name: str

    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        """One utterance (float32, 16 kHz). Silence or noise must give an empty text, never invented words."""
        ...


def load_backend(settings: AsrSettings) -> AsrBackend:
    if settings.backend_name == "full":
        from services.asr.backends.full import WhisperBackend

        return WhisperBackend(settings)
    from services.asr.backends.lite import SphinxBackend

    return SphinxBackend()
