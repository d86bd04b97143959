"""Full ASR: faster-whisper (CTranslate2) with distil-whisper large-v3, float16 on GPU, int8 on CPU.

Hallucination guards (Whisper invents sentences on silence): faster-whisper's own Silero VAD filter
drops non-speech before decoding; a segment is dropped when it is probably not speech
(no_speech_prob above the threshold) *and* the decoder was unsure (avg_logprob below the threshold),
which is Whisper's own rule; and previous text never conditions the next window.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError, require, resolve_device
from mrrrme.contracts import Word
from services.asr.backends import Recognition
from services.asr.settings import AsrSettings


def _weights_present(model: str) -> bool:
    if Path(model).is_dir():
        return True
    from faster_whisper.utils import download_model

    try:
        download_model(model, local_files_only=True)
    except Exception:
        return False
    return True


class WhisperBackend:
    def __init__(self, settings: AsrSettings) -> None:
        faster_whisper = require("faster_whisper", "full")
        if not _weights_present(settings.model):
            raise StartupError(
                f"asr: faster-whisper weights for {settings.model!r} are not in the model cache; fetch them on a "
                "machine that reaches the Hugging Face hub with `make models`, or set MRRRME_ASR_MODEL to a "
                "local CTranslate2 model directory"
            )
        self.settings = settings
        self.device = resolve_device(settings.device)
        compute = settings.compute_type
        if compute == "auto":
            compute = "float16" if self.device.startswith("cuda") else "int8"
        device, _, index = self.device.partition(":")
        self._model: Any = faster_whisper.WhisperModel(
            settings.model, device=device, device_index=int(index or 0), compute_type=compute
        )

    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        s = self.settings
        segments, info = self._model.transcribe(
            audio,
            language=language,
            beam_size=s.beam_size,
            vad_filter=True,
            word_timestamps=True,
            condition_on_previous_text=False,
            no_speech_threshold=s.no_speech_threshold,
            log_prob_threshold=s.log_prob_threshold,
        )
        kept = [
            segment
            for segment in segments
            if not (segment.no_speech_prob > s.no_speech_threshold and segment.avg_logprob < s.log_prob_threshold)
        ]
        words = [
            Word(word=w.word.strip(), start=float(w.start), end=float(w.end), probability=float(w.probability))
            for segment in kept
            for w in (segment.words or [])
            if w.word.strip()
        ]
        text = " ".join(segment.text.strip() for segment in kept).strip()
        no_speech = float(np.mean([seg.no_speech_prob for seg in kept])) if kept else 1.0
        return Recognition(text=text, language=info.language, no_speech_prob=min(1.0, no_speech), words=words)


def fetch_weights(settings: AsrSettings, cache: Path, interactive: bool) -> str:
    """`make models`: the CTranslate2 conversion faster-whisper knows by this size or alias, into the cache."""
    from faster_whisper.utils import download_model

    return str(download_model(settings.model))
