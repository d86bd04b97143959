"""End of turn with Smart Turn v3.2: is the person done speaking, or only pausing?

The model is `smart-turn-v3.2-cpu.onnx` from the `pipecat-ai` wheel (BSD-2-Clause; installed with
--no-deps, only the file is used), a Whisper-tiny encoder with a classifier head that hears both the
words and the intonation: "I was thinking that maybe..." with a falling pause reads incomplete,
"Can you help me?" reads complete. Input: Whisper log-mel features (80 x 800) of the last 8 s of the
turn, including the silence heard so far; output: the probability that the turn is complete.

The input is prepared exactly as pipecat's own analyzer prepares it (`LocalSmartTurnAnalyzerV3`):
the audio is cut to its last 8 s or zero-padded *at the front* to 8 s, normalised to zero mean and unit
variance over those 8 s, then turned into Whisper's log-mel features (mrrrme.melspec). About 25-75 ms
per call on one CPU thread, so the gateway runs it on its own thread (`submit`), never on the event loop.
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError, package_file
from mrrrme.melspec import SAMPLE_RATE, log_mel

log = logging.getLogger("mrrrme.gateway.turn")

WINDOW_SECONDS = 8
WINDOW = WINDOW_SECONDS * SAMPLE_RATE
NORMALISE_EPS = 1e-7
"""Added to the variance before the square root, as transformers' Whisper feature extractor does."""
INSTALL = "pip install --no-deps 'pipecat-ai==1.14.0' (or make install)"


class TurnModelUnavailable(StartupError):
    pass


def smart_turn_model_path() -> Path:
    # pipecat's __init__ imports its whole framework (loguru, pydantic, ...): package_file does not import it.
    return package_file("pipecat", "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx", INSTALL)


def turn_features(audio: np.ndarray) -> np.ndarray:
    """float32 (80, 800): the last 8 s of `audio` (float32 in [-1, 1], 16 kHz), front-padded with zeros,
    normalised, as Whisper log-mel."""
    samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected mono audio (one dimension), got shape {samples.shape}")
    samples = samples[-WINDOW:] if len(samples) >= WINDOW else np.pad(samples, (WINDOW - len(samples), 0))
    # In float32, as the reference normalises its float32 buffer before the spectrogram.
    samples = (samples - samples.mean()) / np.sqrt(samples.var() + NORMALISE_EPS)
    return log_mel(samples)


class TurnModel:
    """Smart Turn v3.2 on onnxruntime, shared by every session of a gateway (onnxruntime sessions are
    thread-safe). `submit` runs a decision on the model's own worker threads."""

    _shared: TurnModel | None = None
    _shared_lock = threading.Lock()

    def __init__(self, model_path: Path | None = None, threads: int = 1, workers: int = 1) -> None:
        if threads < 1 or workers < 1:
            raise TurnModelUnavailable(f"turn model: threads and workers must be at least 1 ({threads}, {workers})")
        try:
            import onnxruntime as ort
        except ImportError:
            raise TurnModelUnavailable("onnxruntime is not installed: run `pip install onnxruntime`") from None
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        path = model_path or smart_turn_model_path()
        try:
            self._session: Any = ort.InferenceSession(
                str(path), sess_options=options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:  # a truncated or foreign file: say which, not a protobuf traceback
            raise TurnModelUnavailable(
                f"turn model {path} could not be loaded ({type(exc).__name__}): {INSTALL}"
            ) from None
        inputs = self._session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [80, 800]:
            raise TurnModelUnavailable(f"turn model {path} does not take Whisper features (80 x 800)")
        self._input = inputs[0].name
        # A session's decisions queue here; one worker keeps the model off the CPU the VAD needs.
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="smart-turn")

    @classmethod
    def shared(cls) -> TurnModel:
        """The process's one model (loaded on first use), for segmenters not handed one explicitly."""
        with cls._shared_lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    def probability(self, audio: np.ndarray) -> float:
        """Probability that the turn in `audio` (the turn so far, float32, 16 kHz) is complete."""
        features = turn_features(audio)[None]
        (out,) = self._session.run(None, {self._input: features})
        # The exported graph ends in a sigmoid already (its output is named "logits" all the same).
        return float(np.clip(np.asarray(out).reshape(-1)[0], 0.0, 1.0))

    def submit(self, audio: np.ndarray) -> Future[float]:
        """The same decision, on the model's worker thread."""
        return self._executor.submit(self.probability, audio)

    def warm_up(self) -> None:
        self.probability(np.zeros(SAMPLE_RATE, dtype=np.float32))

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
