"""End of turn: Whisper log-mel in numpy against its reference implementations, Smart Turn v3.2 on
synthesized speech, and the segmenter's model rule (mid-sentence pauses, finished questions, barge-in,
a model that fails or answers late)."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from gateway.turn import WINDOW, TurnModel, TurnModelUnavailable, smart_turn_model_path, turn_features
from gateway.turn_words import sounds_unfinished
from gateway.vad import SAMPLE_RATE, Segmenter, SegmenterConfig, SegmentEvent, SileroVad
from mrrrme.melspec import log_mel, mel_filters
from tests.speech import silence, synthesize

MODEL_RULE = SegmenterConfig(end_of_turn="model")


def voiced(samples: np.ndarray) -> np.ndarray:
    """Without the synthesizer's own leading and trailing silence, so that a pause is exactly the pause."""
    frames = samples[: len(samples) // 160 * 160].astype(np.float64).reshape(-1, 160)
    loud = np.nonzero(np.sqrt(np.mean(frames**2, axis=1)) > 100)[0]
    return samples[loud[0] * 160 : (loud[-1] + 1) * 160]


@pytest.fixture(scope="module")
def vad() -> SileroVad:
    return SileroVad()


@pytest.fixture(scope="module")
def turn() -> TurnModel:
    return TurnModel()


def pipecat_features() -> ModuleType:
    """pipecat's own numpy feature code, loaded from its file (its package imports the whole framework)."""
    path = smart_turn_model_path().parent.parent / "_whisper_features.py"
    spec = importlib.util.spec_from_file_location("pipecat_whisper_features", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- Whisper log-mel ----------------------------------------------------------------------------


def test_mel_filterbank_is_whispers() -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    reference = FeatureExtractor.get_mel_filters(16000, 400, 80)
    assert mel_filters().shape == (80, 201)
    np.testing.assert_allclose(mel_filters(), reference, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("seconds", [0.05, 1.0, 2.345, 8.0])
def test_log_mel_matches_faster_whisper_on_speech_and_noise(seconds: float) -> None:
    from faster_whisper.feature_extractor import FeatureExtractor

    n = int(seconds * SAMPLE_RATE)
    speech = synthesize("I lost my keys this morning and the whole day went wrong").astype(np.float32) / 32768
    speech = np.resize(speech, n) + np.random.default_rng(1).normal(0, 0.01, n).astype(np.float32)
    extractor = FeatureExtractor()
    for padding in (0, 160):  # faster-whisper pads 160 zeros by default before its STFT
        ours = log_mel(np.pad(speech, (0, padding)))
        reference = extractor(speech, padding=padding)
        assert ours.shape == reference.shape == (80, (n + padding) // 160)
        np.testing.assert_allclose(ours, reference, atol=2e-4)


def test_log_mel_refuses_what_it_cannot_compute() -> None:
    with pytest.raises(ValueError, match="mono"):
        log_mel(np.zeros((2, 16000), dtype=np.float32))
    with pytest.raises(ValueError, match="samples"):
        log_mel(np.zeros(100, dtype=np.float32))


@pytest.mark.parametrize("seconds", [0.7, 8.0, 11.3])
def test_turn_features_match_pipecats_preparation(seconds: float) -> None:
    """Cut to the last 8 s or padded at the front, then normalised: exactly what pipecat's analyzer feeds."""
    n = int(seconds * SAMPLE_RATE)
    audio = np.resize(synthesize("can you help me relax a little").astype(np.float32) / 32768, n)
    last = audio[-WINDOW:] if n >= WINDOW else np.pad(audio, (WINDOW - n, 0))
    reference = pipecat_features().compute_whisper_log_mel_features(last, do_normalize=True)
    ours = turn_features(audio)
    assert ours.shape == (80, 800) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, reference, atol=2e-4)


# --- the model ------------------------------------------------------------------------------------


def test_model_tells_a_finished_question_from_a_sentence_broken_off(turn: TurnModel) -> None:
    def probability(text: str) -> float:
        audio = np.concatenate([silence(0.3), voiced(synthesize(text)), silence(0.3)])
        return turn.probability(audio.astype(np.float32) / 32768)

    assert probability("Can you help me relax?") > 0.8
    assert probability("So what I wanted to ask is") < 0.3
    assert probability("I went to the store and") < 0.3


def test_a_broken_model_file_is_a_clear_startup_error(tmp_path: Path) -> None:
    broken = tmp_path / "model.onnx"
    broken.write_bytes(b"not an onnx model")
    with pytest.raises(TurnModelUnavailable, match="could not be loaded"):
        TurnModel(broken)
    with pytest.raises(TurnModelUnavailable, match="threads"):
        TurnModel(threads=0)


# --- the segmenter's model rule ----------------------------------------------------------------


def segment(
    vad: SileroVad, audio: np.ndarray, config: SegmenterConfig, turn: TurnModel, *, pace: float = 0.0
) -> list[SegmentEvent]:
    """Fed in 40 ms chunks like the web client's; `pace` > 0: really wait that long between chunks."""
    segmenter = Segmenter(vad, config, clock=0.0, turn=turn, wait_for_turn=pace == 0.0)
    data, events = audio.astype("<i2").tobytes(), []
    for offset in range(0, len(data), 1280):
        events += segmenter.feed(data[offset : offset + 1280])
        if pace:
            time.sleep(pace)
    return events


def utterances(events: list[SegmentEvent]) -> list[SegmentEvent]:
    return [e for e in events if e.kind == "utterance"]


def speak(text: str, voice: str) -> np.ndarray:
    if voice == "piper":
        return synthesize(text)
    from tests.test_asr_whisper_lite import espeak_speech

    name, _, variant = voice.partition("+")
    return espeak_speech(text, name, variant)


@pytest.mark.parametrize(
    ("voice", "first", "second"),
    [
        ("piper", "So what I wanted to ask is", "whether you could help me tomorrow."),
        ("piper", "I went to the store and", "bought bread."),
        ("en-us+m3", "So what I wanted to ask is", "whether you could help me tomorrow."),
    ],
)
def test_a_mid_sentence_pause_of_600_ms_stays_one_utterance(
    vad: SileroVad, turn: TurnModel, voice: str, first: str, second: str
) -> None:
    halves = voiced(speak(first, voice)), voiced(speak(second, voice))
    audio = np.concatenate([silence(0.5), halves[0], silence(0.6), halves[1], silence(2.0)])
    events = segment(vad, audio, MODEL_RULE, turn)
    (utterance,) = utterances(events)
    assert [e.kind for e in events] == ["speech_start", "utterance"]  # one barge-in signal, one utterance
    assert utterance.ended_at >= len(audio) / SAMPLE_RATE - 2.0  # it holds the second half too
    # The fixed rule, set as short as the model's first question, does cut it: the test can fail.
    assert len(utterances(segment(vad, audio, SegmenterConfig(min_silence_ms=200), turn))) == 2


@pytest.mark.parametrize("voice", ["piper", "en+f2"])
def test_a_finished_question_ends_well_before_the_long_limit(vad: SileroVad, turn: TurnModel, voice: str) -> None:
    spoken = voiced(speak("Can you help me relax?", voice))
    audio = np.concatenate([silence(0.5), spoken, silence(2.5)])
    speech_end = 0.5 + len(spoken) / SAMPLE_RATE
    (utterance,) = utterances(segment(vad, audio, MODEL_RULE, turn))
    assert utterance.reason == "model"
    # Well before the 1.6 s limit: at the first question (~0.3 s after the voice) or, when the model was not
    # yet sure enough (espeak-ng's flat voices, sometimes), at the second one 0.4 s later.
    waited = utterance.decided_at - speech_end
    assert waited < 1.0 < MODEL_RULE.turn_max_silence_ms / 1000
    if voice == "piper":  # a natural voice's question is judged at once: sooner than the old 600 ms rule
        (old,) = utterances(segment(vad, audio, SegmenterConfig(), turn))
        assert old.reason == "silence" and waited < 0.6 < old.decided_at - speech_end
    # The utterance keeps the usual padding after the voice and nothing of the silence beyond it.
    assert speech_end <= utterance.ended_at <= speech_end + 0.3


def test_the_long_limit_ends_a_turn_the_model_keeps_open(vad: SileroVad) -> None:
    never = FakeTurn(lambda audio: 0.0)
    audio = np.concatenate([silence(0.5), synthesize("Can you help me relax?"), silence(2.5)])
    (utterance,) = utterances(segment(vad, audio, MODEL_RULE, never))
    assert utterance.reason == "max_silence" and never.calls >= 2  # asked, asked again, then the limit


def test_the_model_is_not_asked_when_its_answer_would_come_after_the_limit(vad: SileroVad) -> None:
    """Asked at ~200, 600, 1000 ms of silence; a fourth question at ~1400 ms would take effect after the
    1.6 s limit has ended the turn, so it is not asked (each question is 0.1-0.25 s of the gateway's CPU).
    Before: asked four times, the last answer never used."""
    audio = np.concatenate([silence(0.5), synthesize("Can you help me relax?"), silence(2.5)])
    never = FakeTurn(lambda audio: 0.0)
    (utterance,) = utterances(segment(vad, audio, MODEL_RULE, never))
    assert MODEL_RULE.turn_max_silence_ms == 1600
    assert utterance.reason == "max_silence" and never.calls == 3
    longer = FakeTurn(lambda audio: 0.0)
    segment(vad, audio, SegmenterConfig(end_of_turn="model", turn_max_silence_ms=1700), longer)
    assert longer.calls == 4  # with a 1.7 s limit the fourth answer is in time


def test_turns_follow_each_other_with_barge_in_signals(vad: SileroVad, turn: TurnModel) -> None:
    audio = np.concatenate(
        [silence(0.5), synthesize("What time is it?"), silence(1.0), synthesize("Can you help me relax?"), silence(2.0)]
    )
    events = segment(vad, audio, MODEL_RULE, turn)
    assert [e.kind for e in events] == ["speech_start", "utterance", "speech_start", "utterance"]
    assert all(e.reason == "model" for e in utterances(events))


class FakeTurn(TurnModel):
    """A stand-in with a chosen answer (and delay), on its own worker thread like the real one."""

    def __init__(self, answer: Callable[[np.ndarray], float], delay: float = 0.0) -> None:
        self._answer, self._delay, self.calls = answer, delay, 0
        self.threads: set[str] = set()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="fake-turn")

    def probability(self, audio: np.ndarray) -> float:
        self.calls += 1
        self.threads.add(threading.current_thread().name)
        time.sleep(self._delay)
        return self._answer(audio)

    def submit(self, audio: np.ndarray) -> Future[float]:
        return self._executor.submit(self.probability, audio)


def test_live_decisions_run_off_the_calling_thread(vad: SileroVad, turn: TurnModel) -> None:
    """In the gateway `feed` runs on the event loop: the model must run on its own thread, and the answer
    is picked up by a later `feed` as the microphone's audio keeps coming."""
    spy = FakeTurn(turn.probability)
    audio = np.concatenate([silence(0.3), synthesize("Can you help me relax?"), silence(1.8)])
    (utterance,) = utterances(segment(vad, audio, MODEL_RULE, spy, pace=0.01))
    assert utterance.reason == "model" and spy.calls >= 1
    assert spy.threads and threading.current_thread().name not in spy.threads


def test_an_answer_overtaken_by_speech_is_discarded(vad: SileroVad) -> None:
    """'Complete', but the person went on speaking within the decision window: it must not cut the
    sentence (however late the answer comes, in wall time)."""
    late = FakeTurn(lambda audio: 1.0, delay=0.8)
    audio = np.concatenate(
        [
            silence(0.5),
            voiced(synthesize("I went to the store and")),
            silence(0.26),  # the model is asked after 200 ms, speech resumes before 200 + 120 ms
            voiced(synthesize("bought bread.")),
            silence(0.4),
        ]
    )
    segmenter = Segmenter(vad, MODEL_RULE, clock=0.0, turn=late)
    data = audio.astype("<i2").tobytes()
    events = [e for offset in range(0, len(data), 1280) for e in segmenter.feed(data[offset : offset + 1280])]
    assert utterances(events) == [] and segmenter.in_speech  # fed faster than the model answers
    time.sleep(2.0)  # both answers are in by now: the first was asked before the speech resumed
    events = segmenter.feed(silence(0.04).tobytes())
    (utterance,) = utterances(events)
    assert utterance.ended_at >= len(audio) / SAMPLE_RATE - 0.5  # the whole sentence


def test_a_failing_model_falls_back_to_the_silence_rule(vad: SileroVad, caplog: pytest.LogCaptureFixture) -> None:
    def broken(audio: np.ndarray) -> float:
        raise RuntimeError("onnxruntime exploded")

    audio = np.concatenate(
        [silence(0.5), synthesize("What time is it?"), silence(1.5), synthesize("Thanks."), silence(1.5)]
    )
    with caplog.at_level(logging.WARNING, logger="mrrrme.gateway.vad"):
        found = utterances(segment(vad, audio, MODEL_RULE, FakeTurn(broken)))
    assert [u.reason for u in found] == ["silence", "silence"]  # the 600 ms rule took over
    assert "turn model failed (RuntimeError)" in caplog.text and "exploded" not in caplog.text


def test_flush_and_reset_drop_a_pending_decision(vad: SileroVad) -> None:
    slow = FakeTurn(lambda audio: 1.0, delay=0.3)
    speech = np.concatenate([silence(0.3), synthesize("Can you help me relax?"), silence(0.4)])
    for end in ("flush", "reset"):
        segmenter = Segmenter(vad, MODEL_RULE, clock=0.0, turn=slow)
        segmenter.feed(speech.tobytes())
        if end == "flush":
            ended = segmenter.flush()
        else:
            segmenter.reset()
            ended = []
        time.sleep(0.4)
        later = segmenter.feed(silence(0.1).tobytes())
        assert [e.reason for e in utterances(ended)] == (["flush"] if end == "flush" else [])
        assert later == [] and not segmenter.in_speech


def test_config_from_the_gateway_settings() -> None:
    from gateway.settings import GatewaySettings

    settings = GatewaySettings(end_of_turn="silence", turn_max_silence_ms=2000, vad_min_silence_ms=700)
    config = SegmenterConfig.from_settings(settings)
    assert (config.end_of_turn, config.turn_max_silence_ms, config.min_silence_ms) == ("silence", 2000, 700)
    assert GatewaySettings().end_of_turn == "model"


def test_chunk_size_does_not_change_the_model_rules_cut(vad: SileroVad, turn: TurnModel) -> None:
    audio = np.concatenate(
        [silence(0.5), synthesize("What time is it?"), silence(1.0), synthesize("Thanks."), silence(2)]
    )
    data = audio.astype("<i2").tobytes()
    cuts = []
    for chunk in (160, 512, 1600):
        segmenter = Segmenter(vad, MODEL_RULE, clock=0.0, turn=turn, wait_for_turn=True)
        events = [e for o in range(0, len(data), chunk * 2) for e in segmenter.feed(data[o : o + chunk * 2])]
        cuts.append([(e.kind, round(e.started_at, 3), round(e.ended_at, 3), e.reason) for e in events])
    assert cuts[0] == cuts[1] == cuts[2] and len(cuts[0]) == 4


def test_a_missing_model_falls_back_to_the_silence_rule(
    vad: SileroVad, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import gateway.turn

    def missing() -> Path:
        raise TurnModelUnavailable("the pipecat package is not installed: pip install --no-deps pipecat-ai")

    monkeypatch.setattr(gateway.turn, "smart_turn_model_path", missing)
    monkeypatch.setattr(TurnModel, "_shared", None)
    with caplog.at_level(logging.WARNING, logger="mrrrme.gateway.vad"):
        segmenter = Segmenter(vad, MODEL_RULE, clock=0.0)
    assert "falls back to the silence rule" in caplog.text and "pipecat" in caplog.text
    audio = np.concatenate([silence(0.5), synthesize("What time is it?"), silence(1.0)])
    (utterance,) = utterances(segmenter.feed(audio.tobytes()) + segmenter.flush())
    assert utterance.reason == "silence"


# --- speculative recognition ----------------------------------------------------------------------

SPECULATING = dataclasses.replace(MODEL_RULE, speculate=True)


def test_the_utterance_names_the_speculation_whose_audio_it_is(vad: SileroVad, turn: TurnModel) -> None:
    audio = np.concatenate([silence(0.5), voiced(synthesize("Can you help me relax?")), silence(2.0)])
    events = segment(vad, audio, SPECULATING, turn)
    assert [e.kind for e in events] == ["speech_start", "speculate", "utterance"]
    early, utterance = events[1], events[2]
    # The early audio is the utterance's, sample for sample: its transcript can stand for the utterance's.
    assert early.speculation == utterance.speculation == 1
    assert early.pcm == utterance.pcm and early.started_at == utterance.started_at
    assert early.decided_at < utterance.decided_at  # sent while the end of the turn was still being decided
    # Off by default in the segmenter: the same audio without speculation.
    assert [e.kind for e in segment(vad, audio, MODEL_RULE, turn)] == ["speech_start", "utterance"]


def test_recognition_starts_before_the_turn_model_is_first_asked(vad: SileroVad) -> None:
    """A 'complete' waits for the early words, so they are asked for sooner than the model: at
    `speculate_silence_ms`, with only that much trailing silence, which the utterance then keeps too."""
    asked_s: list[float] = []  # how much audio (from the start of speech) the model heard at each question

    def complete(audio: np.ndarray) -> float:
        asked_s.append(len(audio) / SAMPLE_RATE)
        return 1.0

    model = FakeTurn(complete)
    audio = np.concatenate([silence(0.5), voiced(synthesize("Can you help me relax?")), silence(2.0)])
    config = dataclasses.replace(SPECULATING, speculate_silence_ms=100, turn_silence_ms=300)
    _, early, utterance = segment(vad, audio, config, model)
    assert early.kind == "speculate" and utterance.kind == "utterance" and utterance.reason == "model"
    assert early.decided_at - early.started_at < asked_s[0] - 0.15  # ~200 ms of silence earlier
    assert early.pcm == utterance.pcm
    # Without speculation the utterance keeps pad_ms (200) of its silence, more than the early audio had.
    (plain,) = utterances(segment(vad, audio, dataclasses.replace(config, speculate=False), model))
    assert len(plain.pcm) > len(utterance.pcm) and plain.pcm.startswith(utterance.pcm)


def test_speech_after_the_early_audio_voids_it(vad: SileroVad, turn: TurnModel) -> None:
    first, second = voiced(synthesize("I went to the store and")), voiced(synthesize("bought bread."))
    audio = np.concatenate([silence(0.5), first, silence(0.6), second, silence(2.0)])
    events = segment(vad, audio, SPECULATING, turn)
    kinds = [e.kind for e in events]
    assert kinds == ["speech_start", "speculate", "speculate", "utterance"]  # one per silence
    paused, final, utterance = events[1], events[2], events[3]
    assert utterance.speculation == final.speculation == 2 != paused.speculation
    assert len(paused.pcm) < len(utterance.pcm) and utterance.pcm.startswith(paused.pcm)
    assert final.pcm == utterance.pcm


def test_the_silence_rule_speculates_too(vad: SileroVad) -> None:
    config = SegmenterConfig(speculate=True)
    audio = np.concatenate([silence(0.5), voiced(synthesize("What time is it?")), silence(1.0)])
    events = segment(vad, audio, config, FakeTurn(lambda audio: 0.0))
    assert [e.kind for e in events] == ["speech_start", "speculate", "utterance"]
    assert events[2].reason == "silence" and events[2].speculation == events[1].speculation
    assert events[1].pcm == events[2].pcm


def test_too_little_speech_is_not_speculated(vad: SileroVad) -> None:
    config = SegmenterConfig(speculate=True, min_speech_ms=5000)  # the whole sentence is "too short"
    audio = np.concatenate([silence(0.5), voiced(synthesize("What time is it?")), silence(1.0)])
    assert [e.kind for e in segment(vad, audio, config, FakeTurn(lambda audio: 0.0))] == ["speech_start"]


# --- audio that stops coming ----------------------------------------------------------------------


def fed_then_stopped(
    vad: SileroVad, audio: np.ndarray, turn: TurnModel, seconds: float
) -> tuple[list[SegmentEvent], list[SegmentEvent]]:
    """Feed `audio` (40 ms chunks, at once), then no more audio: tick for `seconds` as the session does."""
    segmenter = Segmenter(vad, MODEL_RULE, clock=0.0, turn=turn)
    data = audio.astype("<i2").tobytes()
    fed = [e for offset in range(0, len(data), 1280) for e in segmenter.feed(data[offset : offset + 1280])]
    ticked: list[SegmentEvent] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and not utterances(ticked):
        time.sleep(0.04)
        ticked += segmenter.tick()
    return fed, ticked


def test_a_question_asked_just_before_the_audio_stops_is_answered(vad: SileroVad) -> None:
    """The model was asked at 200 ms of silence, then the client stopped streaming (push-to-talk): the time
    without audio is silence, so its 'complete' is acted on without waiting for audio that never comes."""
    complete = FakeTurn(lambda audio: 1.0, delay=0.05)
    audio = np.concatenate([silence(0.3), voiced(synthesize("Can you help me relax?")), silence(0.24)])
    fed, ticked = fed_then_stopped(vad, audio, complete, 3.0)
    assert utterances(fed) == []
    (utterance,) = utterances(ticked)
    assert utterance.reason == "model" and complete.calls == 1


def test_an_open_turn_whose_audio_stops_ends_at_the_silence_limit(vad: SileroVad) -> None:
    """'Incomplete' answers, and the audio stops while the last question is out: the utterance still ends,
    at the long silence limit counted with the time without audio (it used to wait for audio forever)."""
    never = FakeTurn(lambda audio: 0.0, delay=0.3)
    audio = np.concatenate([silence(0.3), voiced(synthesize("I went to the store and")), silence(1.0)])
    started = time.monotonic()
    _fed, ticked = fed_then_stopped(vad, audio, never, 4.0)
    (utterance,) = utterances(ticked)
    assert utterance.reason == "stalled" and never.calls >= 2
    assert time.monotonic() - started < 3.0  # within the 1.6 s limit plus the ticks, not the 4 s allowed


# --- the word check: the early transcript's words as a second opinion ----------------------------

CHECKING_WORDS = dataclasses.replace(MODEL_RULE, speculate=True, word_check=True)
ALWAYS_COMPLETE = FakeTurn(lambda audio: 1.0)


def segment_hearing(
    vad: SileroVad, audio: np.ndarray, config: SegmenterConfig, heard: Callable[[int], str | None]
) -> list[SegmentEvent]:
    """Like `segment`, but each speculation's words (`heard(its number)`) are reported as soon as it starts,
    as if recognition answered instantly."""
    segmenter = Segmenter(vad, config, clock=0.0, turn=ALWAYS_COMPLETE, wait_for_turn=True)
    data, events = audio.astype("<i2").tobytes(), list[SegmentEvent]()
    for offset in range(0, len(data), 1280):
        for event in segmenter.feed(data[offset : offset + 1280]):
            events.append(event)
            if event.kind == "speculate" and event.speculation is not None:
                text = heard(event.speculation)
                segmenter.heard(event.speculation, None if text is None else sounds_unfinished(text))
    return events


def paused_sentence() -> np.ndarray:
    first, second = voiced(synthesize("I went to the store and")), voiced(synthesize("bought bread."))
    return np.concatenate([silence(0.5), first, silence(0.6), second, silence(2.0)])


def test_words_that_go_on_keep_a_turn_the_model_called_complete_open(vad: SileroVad) -> None:
    """The model says 'complete' at every pause (the split halves' first part ends with a finished fall);
    the early transcript 'I went to the store and...' overrules it, so the sentence stays one utterance."""
    texts = {1: "I went to the store and...", 2: "I went to the store and bought bread."}
    events = segment_hearing(vad, paused_sentence(), CHECKING_WORDS, texts.get)
    (utterance,) = utterances(events)
    assert utterance.reason == "model" and utterance.speculation == 2
    # The same model without the word check cuts the sentence at the pause.
    assert len(utterances(segment(vad, paused_sentence(), SPECULATING, ALWAYS_COMPLETE))) == 2


def test_words_that_cannot_be_read_leave_the_model_in_charge(vad: SileroVad) -> None:
    """No transcript (recognition failed): the model's 'complete' stands, as without the word check."""
    events = segment_hearing(vad, paused_sentence(), CHECKING_WORDS, lambda speculation: None)
    assert len(utterances(events)) == 2


def test_words_that_always_go_on_end_at_the_silence_limit(vad: SileroVad) -> None:
    """A false 'unfinished' ('Yes, I would love to.') costs the long limit, never the turn itself."""
    audio = np.concatenate([silence(0.5), voiced(synthesize("Yes, I would love to.")), silence(2.5)])
    events = segment_hearing(vad, audio, CHECKING_WORDS, lambda speculation: "Yes, I would love to.")
    (utterance,) = utterances(events)
    assert utterance.reason == "max_silence" and ALWAYS_COMPLETE.calls >= 1


def test_a_complete_waits_for_its_words_and_ends_when_they_come(vad: SileroVad) -> None:
    audio = np.concatenate([silence(0.5), voiced(synthesize("Can you help me relax?")), silence(0.8)])
    segmenter = Segmenter(vad, CHECKING_WORDS, clock=0.0, turn=ALWAYS_COMPLETE, wait_for_turn=True)
    data = audio.astype("<i2").tobytes()
    events = [e for offset in range(0, len(data), 1280) for e in segmenter.feed(data[offset : offset + 1280])]
    (speculation,) = [e for e in events if e.kind == "speculate"]
    assert utterances(events) == [] and segmenter.in_speech  # held: the words are not in yet
    assert speculation.speculation is not None
    segmenter.heard(speculation.speculation + 1, False)  # another speculation's words change nothing
    assert segmenter.poll() == []
    segmenter.heard(speculation.speculation, False)
    (utterance,) = utterances(segmenter.poll())
    assert utterance.reason == "model" and utterance.pcm == speculation.pcm


def test_words_that_never_come_do_not_hold_the_turn_for_long(vad: SileroVad, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("gateway.vad.WORDS_TIMEOUT_S", 0.2)
    audio = np.concatenate([silence(0.5), voiced(synthesize("Can you help me relax?")), silence(0.5)])
    segmenter = Segmenter(vad, CHECKING_WORDS, clock=0.0, turn=ALWAYS_COMPLETE, wait_for_turn=True)
    data = audio.astype("<i2").tobytes()
    fed = [e for offset in range(0, len(data), 1280) for e in segmenter.feed(data[offset : offset + 1280])]
    assert utterances(fed) == []
    time.sleep(0.3)
    (utterance,) = utterances(segmenter.tick())
    assert utterance.reason == "model"


@pytest.mark.parametrize(
    "text",
    ["I went to the store and...", "My favorite color is\u2026", "I went to the store and", "I would like to.",
     "So I was thinking,", "I bought a new pair of", "It is better than", "Because"],
)  # fmt: skip
def test_words_that_leave_a_sentence_unfinished(text: str) -> None:
    assert sounds_unfinished(text)


@pytest.mark.parametrize(
    "text",
    ["Can you help me relax?", "I had a long day at work.", "Yes, I am.", "So do I.", "Where are you from?",
     "Come in.", "I miss my grandmother", "Thank you!", "", "   "],
)  # fmt: skip
def test_words_of_a_finished_sentence(text: str) -> None:
    assert not sounds_unfinished(text)


def test_audio_after_a_held_complete_waits_for_the_words(vad: SileroVad) -> None:
    """A recording sent at once is cut as live: the next sentence, already sent, must not run into a turn
    whose 'complete' is waiting for its words."""
    first, second = voiced(synthesize("Can you help me relax?")), voiced(synthesize("I feel tired."))
    audio = np.concatenate([silence(0.5), first, silence(0.8), second, silence(0.8)])
    segmenter = Segmenter(vad, CHECKING_WORDS, clock=0.0, turn=ALWAYS_COMPLETE, wait_for_turn=True)
    data = audio.astype("<i2").tobytes()
    events = [e for offset in range(0, len(data), 1280) for e in segmenter.feed(data[offset : offset + 1280])]
    (speculation,) = [e for e in events if e.kind == "speculate"]
    assert speculation.speculation is not None and utterances(events) == []
    segmenter.heard(speculation.speculation, False)
    events = segmenter.feed(b"")
    later = [e for e in events if e.kind == "speculate"]
    assert utterances(events)[0].pcm == speculation.pcm  # the first turn alone
    assert len(later) == 1 and later[0].speculation is not None
    segmenter.heard(later[0].speculation, False)
    (second_turn,) = utterances(segmenter.poll())
    assert second_turn.started_at >= utterances(events)[0].ended_at
