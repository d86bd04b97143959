"""Utterance segmentation with Silero VAD (its ONNX file on onnxruntime alone, ~1 ms per 32 ms chunk).

The gateway is the session's home (DESIGN.md 2.2), so the streaming state lives here: each socket
has a `Segmenter` that turns a stream of PCM16 chunks into `speech_start` events (barge-in) and
whole `utterance`s, which are published for asr and voice as self-contained units.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from mrrrme.backends import StartupError, package_file

SAMPLE_RATE = 16000
CHUNK = 512
"""Samples per VAD step at 16 kHz (32 ms): the size the Silero model was trained on."""
CONTEXT = 64
CHUNK_MS = CHUNK * 1000 / SAMPLE_RATE


class VadUnavailable(StartupError):
    pass


def silero_model_path() -> Path:
    # Its __init__ imports torch, which the gateway does not need: package_file does not import it.
    return package_file("silero_vad", "data/silero_vad.onnx", "pip install --no-deps silero-vad (or make install)")


class SileroVad:
    """The model, shared by every session of a gateway (onnxruntime sessions are thread-safe)."""

    def __init__(self, model_path: Path | None = None) -> None:
        try:
            import onnxruntime as ort
        except ImportError:
            raise VadUnavailable("onnxruntime is not installed: run `pip install onnxruntime`") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        self._session = ort.InferenceSession(
            str(model_path or silero_model_path()), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)

    def stream(self) -> VadStream:
        return VadStream(self)

    def _run(self, x: np.ndarray, state: np.ndarray) -> tuple[float, np.ndarray]:
        out, new_state = self._session.run(None, {"input": x, "state": state, "sr": self._sr})
        return float(out[0][0]), new_state


class VadStream:
    """The recurrent state of one audio stream."""

    def __init__(self, vad: SileroVad) -> None:
        self._vad = vad
        self._state = np.zeros((2, 1, 128), dtype=np.float32)
        self._context = np.zeros((1, CONTEXT), dtype=np.float32)

    def probability(self, chunk: np.ndarray) -> float:
        """Speech probability of one 512-sample float32 chunk in [-1, 1]."""
        x = np.concatenate([self._context, chunk.reshape(1, CHUNK)], axis=1)
        p, self._state = self._vad._run(x, self._state)
        self._context = x[:, -CONTEXT:]
        return p


@dataclass(frozen=True)
class SegmentEvent:
    kind: Literal["speech_start", "utterance"]
    started_at: float
    ended_at: float = 0.0
    pcm: bytes = b""


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5
    min_silence_ms: int = 600
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_s: float = 30.0


class Segmenter:
    """Cuts one session's audio into utterances (hysteresis: start at `threshold`, end below it - 0.15)."""

    def __init__(self, vad: SileroVad, config: SegmenterConfig | None = None, clock: float | None = None) -> None:
        self.config = config or SegmenterConfig()
        self._stream = vad.stream()
        # Wall time of sample 0. Without a fixed `clock` (tests), it is re-anchored on every chunk to
        # that chunk's arrival, so utterance times stay true when the client starts late or pauses.
        self._fixed_clock = clock is not None
        self._start_wall = time.time() if clock is None else clock
        self._pending = np.zeros(0, dtype=np.int16)
        self._samples_seen = 0
        self._pad_chunks = max(1, round(self.config.pad_ms / CHUNK_MS))
        self._preroll: deque[np.ndarray] = deque(maxlen=self._pad_chunks)
        self._speech: list[np.ndarray] = []
        self._speech_start_sample = 0
        self._voiced_chunks = 0
        self._silent_run = 0
        self._triggered = False

    @property
    def in_speech(self) -> bool:
        return self._triggered

    def _wall(self, sample: int) -> float:
        return self._start_wall + sample / SAMPLE_RATE

    def feed(self, pcm: bytes) -> list[SegmentEvent]:
        samples = np.frombuffer(pcm, dtype="<i2")
        if not self._fixed_clock:
            received = self._samples_seen + self._pending.size + samples.size
            self._start_wall = time.time() - received / SAMPLE_RATE
        self._pending = np.concatenate([self._pending, samples]) if self._pending.size else samples.copy()
        events: list[SegmentEvent] = []
        while self._pending.size >= CHUNK:
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            events.extend(self._step(chunk))
        return events

    def _step(self, chunk: np.ndarray) -> list[SegmentEvent]:
        probability = self._stream.probability(chunk.astype(np.float32) / 32768.0)
        chunk_start = self._samples_seen
        self._samples_seen += CHUNK
        config = self.config
        if not self._triggered:
            if probability >= config.threshold:
                self._triggered = True
                self._speech = [*self._preroll, chunk]
                self._speech_start_sample = chunk_start - CHUNK * len(self._preroll)
                self._preroll.clear()
                self._voiced_chunks, self._silent_run = 1, 0
                return [SegmentEvent("speech_start", self._wall(self._speech_start_sample))]
            self._preroll.append(chunk)
            return []
        self._speech.append(chunk)
        if probability < config.threshold - 0.15:
            self._silent_run += 1
        else:
            self._silent_run = 0
            if probability >= config.threshold:
                self._voiced_chunks += 1
        if self._silent_run * CHUNK_MS >= config.min_silence_ms:
            # Keep `pad_ms` of the trailing silence, drop the rest.
            keep = len(self._speech) - self._silent_run + self._pad_chunks
            self._speech = self._speech[:keep]
            return self._finish()
        if len(self._speech) * CHUNK >= config.max_utterance_s * SAMPLE_RATE:
            events = self._finish()
            self._triggered = True  # still talking: the next piece starts right here
            self._speech_start_sample = self._samples_seen
            self._voiced_chunks = 0
            return events
        return []

    def _finish(self) -> list[SegmentEvent]:
        speech, voiced = self._speech, self._voiced_chunks
        start = self._speech_start_sample
        self._speech, self._voiced_chunks, self._silent_run, self._triggered = [], 0, 0, False
        if not speech or voiced * CHUNK_MS < self.config.min_speech_ms:
            return []
        pcm = np.concatenate(speech).astype("<i2").tobytes()
        end = start + len(pcm) // 2
        return [SegmentEvent("utterance", self._wall(start), self._wall(end), pcm)]

    def reset(self) -> None:
        """Forget buffered audio (microphone consent withdrawn): nothing heard so far goes anywhere."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._preroll.clear()
        self._speech, self._voiced_chunks, self._silent_run, self._triggered = [], 0, 0, False

    def flush(self) -> list[SegmentEvent]:
        """End of speech said by the client: emit what is being spoken now, if it is speech."""
        if not self._triggered:
            return []
        if self._pending.size:
            self._speech.append(self._pending.copy())
            self._pending = np.zeros(0, dtype=np.int16)
        return self._finish()
