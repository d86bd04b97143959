"""TTS backends: `lite` (piper with the joe voice, alignments -> visemes) and `full` (XTTS v2)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from mrrrme.contracts import Viseme
from services.tts.settings import TtsSettings


@dataclass(frozen=True)
class Speech:
    pcm: bytes
    """PCM16 little-endian mono."""
    sample_rate: int
    visemes: list[Viseme]


class TtsBackend(Protocol):
    name: str

    def synthesize(self, text: str, voice: str, language: str) -> Speech: ...


def load_backend(settings: TtsSettings) -> TtsBackend:
    if settings.backend_name == "full":
        from services.tts.backends.full import XttsBackend

        return XttsBackend(settings)
    from services.tts.backends.lite import PiperBackend

    return PiperBackend()
