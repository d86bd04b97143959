"""Utterance segmentation with Silero VAD (its ONNX file on onnxruntime alone, ~1 ms per 32 ms chunk).

The gateway is the session's home (DESIGN.md 2.2), so the streaming state lives here: each socket
has a `Segmenter` that turns a stream of PCM16 chunks into `speech_start` events (barge-in) and
whole `utterance`s, which are published for asr and voice as self-contained units.

Where an utterance ends (`SegmenterConfig.end_of_turn`):
- "silence": after `min_silence_ms` of silence, whatever was said (the old fixed rule);
- "model": after a short silence (`turn_silence_ms`) the Smart Turn model (gateway/turn.py) is asked
  whether the turn is complete; yes -> the utterance ends there; no -> keep listening, ask again every
  `turn_recheck_ms`, and end at `turn_max_silence_ms` at the latest. A finished question ends a few
  hundred ms after the voice stops; "I went to the store and ... bought bread" stays one utterance.
Speculative recognition (`SegmenterConfig.speculate`): when a silence reaches `speculate_silence_ms`
(before the turn model is first asked: the early transcript is what a 'complete' then waits for), a
`speculate` event carries the speech so far with the silence heard so far (at most `pad_ms` of it), so
the recogniser can start while the end of the turn is still being decided. The utterance that ends in
that same silence names the speculation (`SegmentEvent.speculation`) and has the very same audio (it keeps
the speculation's trailing silence, not `pad_ms`); speech before the end voids it (the next utterance
names none or a later one).
With `word_check`, a 'complete' from the model also waits for that early transcript (reported with
`heard`) and stands only when its words do not say the sentence goes on ("I went to the store and...":
gateway/turn_words.py); the transcript is needed before fusion anyway, so the wait costs a turn nothing.
The model call (~25-75 ms) runs on the model's own thread: `feed` only submits it and picks up the
answer on a later call (audio keeps coming: the microphone streams silence too), so the event loop that
calls `feed` is never blocked. Speech that resumes before the answer makes the answer moot.
"""

from __future__ import annotations

import logging
import math
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from mrrrme.backends import StartupError, package_file

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings
    from gateway.turn import TurnModel

log = logging.getLogger("mrrrme.gateway.vad")

SAMPLE_RATE = 16000
CHUNK = 512
"""Samples per VAD step at 16 kHz (32 ms): the size the Silero model was trained on."""
CONTEXT = 64
CHUNK_MS = CHUNK * 1000 / SAMPLE_RATE
TURN_WINDOW_CHUNKS = math.ceil(8 * SAMPLE_RATE / CHUNK)
"""Chunks in the turn model's 8 s window (gateway/turn.py)."""


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


DECISION_WINDOW_MS = 120.0
"""Audio time after asking the turn model at which its answer takes effect; resumed speech before then
overtakes it. A little over the model's time per call here (~75 ms, ~100 ms under load)."""
DECISION_TIMEOUT_S = 2.0
"""A turn model that has not answered by then (a stuck thread) hands the session back to the silence rule."""
WORDS_TIMEOUT_S = 1.5
"""A 'complete' held for the early transcript's words ends the turn anyway when they take longer than this
(a slow or missing recogniser must not stretch every turn to the silence limit)."""
Words = Literal["pending", "finished", "unfinished", "unknown"]
"""What the early transcript of this silence's speculation says: not there yet, the sentence is finished,
it goes on, or it will not come (recognition failed)."""
EndReason = Literal["", "silence", "model", "max_silence", "max_length", "flush", "stalled"]


@dataclass(frozen=True)
class SegmentEvent:
    kind: Literal["speech_start", "utterance", "speculate"]
    started_at: float
    ended_at: float = 0.0
    pcm: bytes = b""
    reason: EndReason = ""
    """Why an utterance ended: the fixed silence rule, the turn model, the long silence limit, the
    length limit, or the client's speech_end."""
    decided_at: float = 0.0
    """Wall time (in the stream's own clock) of the audio sample at which the end was decided."""
    speculation: int | None = None
    """`speculate`: its number in this stream; `utterance`: the speculation whose audio it is exactly (its
    early transcript may stand for it), or None."""


@dataclass(frozen=True)
class SegmenterConfig:
    threshold: float = 0.5
    min_silence_ms: int = 600
    """The fixed rule's silence (and the model rule's fallback when the model fails)."""
    min_speech_ms: int = 250
    pad_ms: int = 200
    max_utterance_s: float = 30.0
    end_of_turn: Literal["silence", "model"] = "silence"
    turn_silence_ms: int = 200
    """Model rule: silence after which the turn model is first asked."""
    turn_recheck_ms: int = 400
    """Model rule: after an 'incomplete', ask again after this much more silence (0: ask once)."""
    turn_max_silence_ms: int = 1600
    """Model rule: the utterance ends after this much silence whatever the model says."""
    speculate: bool = False
    """Emit `speculate` events (the audio so far) when a silence reaches `speculate_silence_ms`."""
    speculate_silence_ms: int = 100
    """Silence at which recognition starts early. Shorter than `turn_silence_ms`, since a 'complete' from the
    model waits for the early words (`word_check`); a pause this long that the person talks through costs
    one recognition nobody uses."""
    turn_threshold: float = 0.9
    """Model rule: the probability of 'complete' at which the turn ends. High, because on synthesized speech
    (bench/end_of_turn.py) Smart Turn often gives a broken-off phrase 0.5-0.9: at 0.9 a finished turn that
    scores lower at the first question is simply asked again `turn_recheck_ms` later."""
    word_check: bool = False
    """Model rule with speculation: a 'complete' waits for the early transcript's words, and stands only if
    they do not say the sentence goes on (gateway/turn_words.py; the pipeline reports them with `heard`)."""

    @classmethod
    def from_settings(cls, s: GatewaySettings) -> SegmenterConfig:
        return cls(
            threshold=s.vad_threshold,
            min_silence_ms=s.vad_min_silence_ms,
            min_speech_ms=s.vad_min_speech_ms,
            pad_ms=s.vad_pad_ms,
            max_utterance_s=s.max_utterance_s,
            end_of_turn=s.end_of_turn,
            turn_silence_ms=s.turn_silence_ms,
            turn_recheck_ms=s.turn_recheck_ms,
            turn_max_silence_ms=s.turn_max_silence_ms,
            turn_threshold=s.turn_threshold,
            speculate=s.speculative_asr,
            speculate_silence_ms=s.speculate_silence_ms,
            word_check=s.turn_word_check,
        )


def _shared_turn_model() -> TurnModel | None:
    """The process's turn model, or None (the fixed silence rule) with one clear line when it cannot load."""
    from gateway.turn import TurnModel

    try:
        return TurnModel.shared()
    except StartupError as exc:
        log.warning("end of turn falls back to the silence rule: %s", exc)
        return None


class Segmenter:
    """Cuts one session's audio into utterances (hysteresis: start at `threshold`, end below it - 0.15).

    `turn`: the end-of-turn model for the "model" rule (default: the process's shared one).
    `wait_for_turn`: block on each model decision at the sample where it was asked, as if the model
    answered instantly: deterministic cuts for tests and benchmarks; never on the event loop.
    """

    def __init__(
        self,
        vad: SileroVad,
        config: SegmenterConfig | None = None,
        clock: float | None = None,
        turn: TurnModel | None = None,
        wait_for_turn: bool = False,
    ) -> None:
        self.config = config or SegmenterConfig()
        self._turn: TurnModel | None = None
        if self.config.end_of_turn == "model":
            self._turn = turn or _shared_turn_model()
        self._wait_for_turn = wait_for_turn
        self._decision: Future[float] | None = None
        self._next_ask_ms = 0.0
        self._turn_failed = False
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
        self._last_audio = time.monotonic()
        self._asked_at = 0.0
        self._asked_silence_ms = 0.0
        self._speculations = 0
        self._speculated: int | None = None  # the speculation this silence run started, while it lasts
        self._speculated_chunks = 0  # the chunks of its audio: an utterance ending in this silence keeps those
        self._words: Words = "unknown"  # what that speculation's transcript says
        self._held_since: float | None = None  # monotonic time a 'complete' began waiting for the words

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
        self._last_audio = time.monotonic()
        self._pending = np.concatenate([self._pending, samples]) if self._pending.size else samples.copy()
        return self._drain()

    def _drain(self) -> list[SegmentEvent]:
        """Step through the buffered audio. The model's answer takes effect `DECISION_WINDOW_MS` of audio
        after it was asked (live, it has answered by then): speech that resumes within that window
        overtakes it, and audio beyond the window waits for it, since the answer says whether that audio
        belongs to the utterance that ended or to the one that goes on. So the cut depends on the audio
        alone, never on how fast the model or the client was: a recording sent at once is cut as live. A
        'complete' held for the early transcript's words holds the audio after it the same way."""
        events: list[SegmentEvent] = []
        while True:
            events.extend(self.poll())
            if self._held_since is not None:
                break  # a 'complete' waits for its words: the audio after it waits too, as for the model
            if self._decision is not None and not self._decision.done() and self._past_window():
                if time.monotonic() - self._asked_at < DECISION_TIMEOUT_S:
                    break
                log.warning("turn model gave no answer within %.0f s; ending turns on silence", DECISION_TIMEOUT_S)
                self._turn_failed = True
                self._drop_decision()
            if self._pending.size < CHUNK:
                break
            chunk, self._pending = self._pending[:CHUNK], self._pending[CHUNK:]
            events.extend(self._step(chunk))
        return events

    def poll(self) -> list[SegmentEvent]:
        """The utterance, if the turn model has answered 'complete' and the decision window has passed
        in silence (`feed` calls it too), or a held 'complete' once the words have come."""
        if not self._triggered:
            return []
        if self._held_since is not None:
            return self._release_held()
        if self._decision is None or not self._decision.done() or not self._past_window():
            return []
        return self._answered() or []

    def heard(self, speculation: int, unfinished: bool | None) -> None:
        """The early transcript of `speculation` has come: its words leave the sentence unfinished (True), or
        not (False), or there is none (None: recognition failed). Moot unless it is this silence's own."""
        if speculation == self._speculated:
            self._words = "unknown" if unfinished is None else "unfinished" if unfinished else "finished"

    def _past_window(self) -> bool:
        return self._silent_run * CHUNK_MS >= self._asked_silence_ms + DECISION_WINDOW_MS

    def tick(self) -> list[SegmentEvent]:
        """Between chunks (the session calls it every few tens of ms): the turn model's answer, and the end
        of an utterance whose audio stopped coming (a client that stopped streaming after its last words,
        a muted microphone, push-to-talk): then the time without audio counts as silence, for the turn
        model's decision window (an answer asked for just before the audio stopped is acted on) and for
        the silence limit."""
        events = self._drain()
        if events or not self._triggered:
            return events
        missing_ms = (time.monotonic() - self._last_audio) * 1000
        if missing_ms < 2 * CHUNK_MS:
            return []  # audio is coming: its chunks decide
        silence_ms = self._silent_run * CHUNK_MS + missing_ms
        model_rule = self._turn is not None and not self._turn_failed
        if model_rule and self._voiced_chunks * CHUNK_MS >= self.config.min_speech_ms:
            self._ask_if_due(silence_ms)  # the audio stopped before the question was due: ask now
        if self._decision is not None:
            if not self._decision.done():
                if time.monotonic() - self._asked_at < DECISION_TIMEOUT_S:
                    return []
                log.warning("turn model gave no answer within %.0f s; ending turns on silence", DECISION_TIMEOUT_S)
                self._turn_failed = True
                self._drop_decision()
            elif silence_ms < self._asked_silence_ms + DECISION_WINDOW_MS:
                return []
            else:
                ended = self._answered()
                if ended:
                    return ended
        model_rule = self._turn is not None and not self._turn_failed  # (a stuck model hands over to silence)
        limit_ms = self.config.turn_max_silence_ms if model_rule else self.config.min_silence_ms
        if silence_ms >= limit_ms:
            return self._end_of_speech("stalled")
        return []

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
            self._speculated, self._words = None, "unknown"  # the audio goes on: an early transcript would miss it
            if probability >= config.threshold:
                self._voiced_chunks += 1
        silence_ms = self._silent_run * CHUNK_MS
        speculation = self._speculate(silence_ms)
        if speculation is not None:
            return [speculation, *self._step_rules(silence_ms)]
        return self._step_rules(silence_ms)

    def _step_rules(self, silence_ms: float) -> list[SegmentEvent]:
        """Whether the utterance ends at this chunk (and the length limit)."""
        config = self.config
        if self._turn is None or self._turn_failed:
            if silence_ms >= config.min_silence_ms:
                return self._end_of_speech("silence")
        elif self._silent_run == 0:
            self._drop_decision()  # speech again: whatever the model was asked is moot
        elif silence_ms >= config.turn_max_silence_ms:
            return self._end_of_speech("max_silence")
        else:
            ended = self._consult(silence_ms)
            if ended is not None:
                return ended
        if len(self._speech) * CHUNK >= config.max_utterance_s * SAMPLE_RATE:
            events = self._finish("max_length")
            self._triggered = True  # still talking: the next piece starts right here
            self._speech_start_sample = self._samples_seen
            self._voiced_chunks = 0
            return events
        return []

    # --- speculative recognition ---------------------------------------------------------------

    def _speculate(self, silence_ms: float) -> SegmentEvent | None:
        """The audio so far, once per silence run, when the silence reaches `speculate_silence_ms` and there is
        enough speech; an utterance that ends in this silence is cut to the same chunks (`_trimmed`)."""
        config = self.config
        if not config.speculate or self._speculated is not None:
            return None
        if silence_ms < config.speculate_silence_ms or self._voiced_chunks * CHUNK_MS < config.min_speech_ms:
            return None
        speech = self._trimmed()
        self._speculations += 1
        self._speculated, self._speculated_chunks = self._speculations, len(speech)
        self._words = "pending" if config.word_check else "unknown"
        start = self._speech_start_sample
        pcm = np.concatenate(speech).astype("<i2").tobytes()
        end = start + len(pcm) // 2
        return SegmentEvent(
            "speculate", self._wall(start), self._wall(end), pcm, decided_at=self._wall(self._samples_seen),
            speculation=self._speculated,
        )  # fmt: skip

    def _trimmed(self) -> list[np.ndarray]:
        """The speech with `pad_ms` of its trailing silence (or less, if less has been heard), or, once this
        silence run has been speculated on, exactly the speculation's chunks."""
        if self._speculated is not None:
            return self._speech[: self._speculated_chunks]
        return self._speech[: len(self._speech) - self._silent_run + min(self._silent_run, self._pad_chunks)]

    # --- the turn model ----------------------------------------------------------------------

    def _consult(self, silence_ms: float) -> list[SegmentEvent] | None:
        """Ask the model when the silence is long enough, and act on its answer once there is one."""
        self._ask_if_due(silence_ms)
        if self._decision is not None and self._decision.done() and self._past_window():
            return self._answered()
        return None

    def _ask_if_due(self, silence_ms: float) -> None:
        """Ask the model whether the turn is complete, once the silence is long enough (or again, later)."""
        assert self._turn is not None
        # An answer is acted on at the first chunk past its decision window; the silence limit ends the turn at
        # the first chunk that reaches it. An answer that could not come first is not asked for: each question
        # costs the gateway ~0.1-0.25 s of CPU.
        if math.ceil((silence_ms + DECISION_WINDOW_MS) / CHUNK_MS) >= math.ceil(
            self.config.turn_max_silence_ms / CHUNK_MS
        ):
            return
        if self._decision is None and silence_ms >= max(self.config.turn_silence_ms, self._next_ask_ms):
            recheck = self.config.turn_recheck_ms
            self._next_ask_ms = silence_ms + recheck if recheck > 0 else math.inf
            # The model hears the last 8 s: only those chunks are copied, however long the turn.
            audio = np.concatenate(self._speech[-TURN_WINDOW_CHUNKS:]).astype(np.float32) / 32768.0
            if self._wait_for_turn:
                self._decision = Future()
                try:
                    self._decision.set_result(self._turn.probability(audio))
                except Exception as exc:
                    self._decision.set_exception(exc)
            else:
                self._decision = self._turn.submit(audio)
            self._asked_at, self._asked_silence_ms = time.monotonic(), silence_ms

    def _answered(self) -> list[SegmentEvent] | None:
        decision, self._decision = self._decision, None
        assert decision is not None
        try:
            complete = decision.result() >= self.config.turn_threshold
        except Exception as exc:
            # Never the audio in a log. The fixed silence rule takes over for the rest of this session.
            log.warning("turn model failed (%s); ending turns on %d ms of silence", type(exc).__name__,
                        self.config.min_silence_ms)  # fmt: skip
            self._turn_failed = True
            if self._silent_run * CHUNK_MS >= self.config.min_silence_ms:
                return self._end_of_speech("silence")
            return None
        if not complete:
            return None
        if self._speculated is not None and self._words != "unknown":
            # The words may still say otherwise; they do not change within this silence, so the model is
            # not asked again: either they confirm, or the silence limit ends the turn.
            self._next_ask_ms = math.inf
            self._held_since = time.monotonic()
            return self._release_held()
        return self._end_of_speech("model")

    def _release_held(self) -> list[SegmentEvent]:
        """End the turn the model called complete once its words are in and do not say it goes on."""
        assert self._held_since is not None
        if self._words == "pending":
            if time.monotonic() - self._held_since < WORDS_TIMEOUT_S:
                return []
            log.info("early transcript later than %.1f s: the turn ends on the model's word", WORDS_TIMEOUT_S)
        elif self._words == "unfinished":
            self._held_since = None  # the silence limit ends it, unless the person goes on
            return []
        return self._end_of_speech("model")

    def _drop_decision(self) -> None:
        if self._decision is not None:
            self._decision.cancel()  # dropped if still queued; a running one finishes unseen
        self._decision, self._next_ask_ms, self._held_since = None, 0.0, None

    # --- ending ------------------------------------------------------------------------------

    def _end_of_speech(self, reason: EndReason) -> list[SegmentEvent]:
        # Keep `pad_ms` of the trailing silence, drop the rest.
        self._speech = self._trimmed()
        return self._finish(reason, self._speculated)

    def _finish(self, reason: EndReason, speculation: int | None = None) -> list[SegmentEvent]:
        speech, voiced = self._speech, self._voiced_chunks
        start = self._speech_start_sample
        self._speech, self._voiced_chunks, self._silent_run, self._triggered = [], 0, 0, False
        self._speculated, self._words = None, "unknown"
        self._drop_decision()
        if not speech or voiced * CHUNK_MS < self.config.min_speech_ms:
            return []
        pcm = np.concatenate(speech).astype("<i2").tobytes()
        end = start + len(pcm) // 2
        decided = self._wall(self._samples_seen)
        return [SegmentEvent("utterance", self._wall(start), self._wall(end), pcm, reason, decided, speculation)]

    def reset(self) -> None:
        """Forget buffered audio (microphone consent withdrawn): nothing heard so far goes anywhere."""
        self._pending = np.zeros(0, dtype=np.int16)
        self._preroll.clear()
        self._speech, self._voiced_chunks, self._silent_run, self._triggered = [], 0, 0, False
        self._speculated, self._words = None, "unknown"
        self._drop_decision()

    def flush(self) -> list[SegmentEvent]:
        """End of speech said by the client: emit what is being spoken now, if it is speech."""
        if not self._triggered:
            return []
        if self._pending.size:
            self._speech.append(self._pending.copy())
            self._pending = np.zeros(0, dtype=np.int16)
        return self._finish("flush")
