"""TTS backends, by name (`MRRRME_TTS_BACKEND`); each is built as `Class(settings)`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mrrrme.contracts import Viseme
from mrrrme.registry import Backends, BackendSpec


@dataclass(frozen=True)
class Speech:
    pcm: bytes
    """PCM16 little-endian mono."""
    sample_rate: int
    visemes: list[Viseme]


class TtsBackend(Protocol):
    def synthesize(self, text: str, voice: str, language: str) -> Speech: ...


BACKENDS: Backends[TtsBackend] = Backends(
    "tts",
    BackendSpec(
        "lite",
        "services.tts.backends.lite:PiperBackend",
        "piper with the joe voice (English; espeak-ng's voice for other languages), visemes from its alignments",
        profiles=("lite",),
    ),
    BackendSpec(
        "full",
        "services.tts.backends.full:XttsBackend",
        "Coqui XTTS v2 (coqui-tts), visemes from espeak-ng's phoneme timings stretched to the audio",
        profiles=("full",),
        gpu=True,
        fetch="services.tts.weights:fetch_weights",
    ),
)
