"""End of turn: the fixed silence rule vs Smart Turn v3.2, on synthesized speech.

    .venv/bin/python -m bench.end_of_turn
    .venv/bin/python -m bench.end_of_turn --voices piper en-us+m3 --pause 0.6 --threshold 0.5

Two measurements, for each rule, through the gateway's real Segmenter (Silero VAD + the turn model):
- *cut too early*: a sentence with a mid-sentence pause (`--pause`, default 0.6 s of silence between the
  voiced parts: "I went to the store and ... bought some bread"): the share that came out as more than
  one utterance. Each sentence twice: its halves synthesized apart (so the first half ends with a
  finished sentence's fall: hard for any model), and synthesized whole with a comma whose pause is
  stretched to the pause (mid-sentence intonation);
- *time to decision*: finished statements and questions followed by silence: from the end of the voice
  (the last 10 ms frame within 40 dB of the loudest) to the moment the segmenter ends the utterance, in
  stream time, plus for the model the time of its last call (measured here, one thread). In the gateway
  the answer is picked up with the next audio chunk after it is ready (the web client sends one every
  40 ms), so add up to 40 ms for that.
Rules: the silence rule, Smart Turn alone, and Smart Turn with the word check (gateway/turn_words.py: the
early transcript, recognised by the lite Whisper when the silence began, must not say the sentence goes on;
its decision waits for those words, timed here as they were recognised) at each of `--word-thresholds`.
Speech: piper's joe voice and espeak-ng voices (`tests/test_asr_whisper_lite.espeak_speech`).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

SPLIT = [
    ("I went to the store and", "bought some bread for dinner."),
    ("So what I wanted to ask is", "whether you could help me tomorrow."),
    ("I was thinking that maybe", "we could go for a walk."),
    ("My favourite colour is", "probably dark blue."),
    ("Yesterday after work I", "met an old friend from school."),
    ("The thing is", "I do not really like my job."),
    ("I would like to", "learn how to cook better."),
    ("When I get home", "I usually make some tea."),
    ("Could you tell me", "what the weather will be like tomorrow?"),
    ("I have been feeling", "a bit anxious lately."),
]
FINISHED = [
    "Can you help me relax?",
    "I had a long day at work.",
    "What time is it?",
    "I feel really tired today.",
    "My sister called me this morning.",
    "Do you think it will rain tomorrow?",
    "I finally finished my project.",
    "Thank you for listening to me.",
    "Where should we go for dinner?",
    "I miss my grandmother.",
]
VOICES = ["piper", "en-us+m3", "en+f2", "en-gb-scotland+m1"]


def speak(text: str, voice: str) -> np.ndarray:
    from tests.speech import synthesize
    from tests.test_asr_whisper_lite import espeak_speech

    if voice == "piper":
        return synthesize(text, varied=True)  # piper's own renditions, as the figures were measured
    name, _, variant = voice.partition("+")
    return espeak_speech(text, name, variant)


def voice_end(samples: np.ndarray) -> float:
    """Seconds to the end of the last 10 ms frame within 40 dB of the loudest one."""
    frames = samples[: len(samples) // 160 * 160].astype(np.float64).reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    loud = np.nonzero(rms > rms.max() * 0.01)[0]
    return float((loud[-1] + 1) * 160 / 16000)


def voiced(samples: np.ndarray) -> np.ndarray:
    """The samples without the synthesizer's own leading and trailing silence (so a pause is the pause)."""
    reverse_end = voice_end(samples[::-1].copy())
    return samples[int((len(samples) / 16000 - reverse_end) * 16000) : int(voice_end(samples) * 16000)]


def paused_in_one_go(first: str, second: str, voice: str, pause: float) -> np.ndarray:
    """ "first, second" synthesized as one sentence (so the first half has mid-sentence intonation), with its
    longest quiet stretch (the comma's pause) stretched to `pause` seconds."""
    from tests.speech import silence

    audio = voiced(speak(f"{first}, {second}", voice))
    frames = audio[: len(audio) // 160 * 160].astype(np.float64).reshape(-1, 160)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    quiet = np.concatenate([[False], rms < rms.max() * 0.02, [False]])
    edges = np.flatnonzero(np.diff(quiet.astype(np.int8)))
    starts, ends = edges[::2], edges[1::2]
    longest = int(np.argmax(ends - starts))
    return np.concatenate([audio[: starts[longest] * 160], silence(pause), audio[ends[longest] * 160 :]])


def main() -> None:
    from gateway.turn import TurnModel
    from gateway.vad import Segmenter, SegmenterConfig, SileroVad
    from tests.speech import silence

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--voices", nargs="+", default=VOICES)
    parser.add_argument("--pause", type=float, default=0.6, help="mid-sentence pause, seconds")
    parser.add_argument("--silence-ms", type=int, default=600, help="the fixed rule's silence")
    parser.add_argument("--turn-silence-ms", type=int, default=SegmenterConfig.turn_silence_ms)
    parser.add_argument("--recheck-ms", type=int, default=SegmenterConfig.turn_recheck_ms)
    parser.add_argument("--max-silence-ms", type=int, default=SegmenterConfig.turn_max_silence_ms)
    parser.add_argument("--threshold", type=float, default=SegmenterConfig.turn_threshold)
    parser.add_argument(
        "--word-thresholds", type=float, nargs="*", default=[SegmenterConfig.turn_threshold, 0.7, 0.5],
        help="thresholds to try with the word check (the early transcript's words)",
    )  # fmt: skip
    args = parser.parse_args()
    from gateway.turn_words import sounds_unfinished
    from services.asr.backends.whisper_lite import WhisperLiteBackend
    from services.asr.settings import AsrSettings

    whisper = WhisperLiteBackend(AsrSettings())
    asr_ms: list[float] = []

    vad, model = SileroVad(), TurnModel()
    model.warm_up()
    call_ms: list[float] = []
    every_call_ms: list[float] = []
    probability = model.probability

    def timed(audio: np.ndarray) -> float:
        started = time.perf_counter()
        try:
            return probability(audio)
        finally:
            call_ms.append(1000 * (time.perf_counter() - started))
            every_call_ms.append(call_ms[-1])

    model.probability = timed  # type: ignore[method-assign]
    rules = {
        f"silence {args.silence_ms} ms": SegmenterConfig(min_silence_ms=args.silence_ms),
        "smart turn": SegmenterConfig(
            end_of_turn="model",
            turn_silence_ms=args.turn_silence_ms,
            turn_recheck_ms=args.recheck_ms,
            turn_max_silence_ms=args.max_silence_ms,
            turn_threshold=args.threshold,
        ),
    }
    for threshold in args.word_thresholds:
        rules[f"smart turn {threshold:g} + words"] = SegmenterConfig(
            end_of_turn="model",
            turn_silence_ms=args.turn_silence_ms,
            turn_recheck_ms=args.recheck_ms,
            turn_max_silence_ms=args.max_silence_ms,
            turn_threshold=threshold,
            speculate=True,
            word_check=True,
        )

    def utterances(audio: np.ndarray, config: SegmenterConfig) -> list[tuple[float, float, str]]:
        """(stream time of the decision, of the early transcript's words or 0, why) for each utterance."""
        segmenter = Segmenter(vad, config, clock=0.0, turn=model, wait_for_turn=True)
        data, found = audio.astype("<i2").tobytes(), list[tuple[float, float, str]]()
        words_at = 0.0  # stream time at which the early transcript would be in (asked when the silence began)
        for offset in range(0, len(data), 1280):  # 40 ms chunks, as the web client sends them
            for e in segmenter.feed(data[offset : offset + 1280]):
                if e.kind == "utterance":
                    # With the word check, the end waits for the words too (here they were heard at once).
                    found.append((e.decided_at, words_at if config.word_check and e.speculation else 0.0, e.reason))
                elif e.kind == "speculate" and e.speculation is not None:
                    started = time.perf_counter()
                    text = whisper.transcribe(np.frombuffer(e.pcm, "<i2").astype(np.float32) / 32768.0, "en").text
                    asr_ms.append(1000 * (time.perf_counter() - started))
                    words_at = e.decided_at + asr_ms[-1] / 1000
                    segmenter.heard(e.speculation, sounds_unfinished(text))
        return found

    print(f"synthesizing for {len(args.voices)} voices ...", flush=True)
    split = [
        (v, np.concatenate([silence(0.5), voiced(speak(a, v)), silence(args.pause), voiced(speak(b, v)), silence(2.5)]))
        for v in args.voices
        for a, b in SPLIT
    ]
    split += [
        (v, np.concatenate([silence(0.5), paused_in_one_go(a, b, v, args.pause), silence(2.5)]))
        for v in args.voices
        for a, b in SPLIT
    ]
    finished = []
    for v in args.voices:
        for s in FINISHED:
            spoken = speak(s, v)
            finished.append((v, 0.5 + voice_end(spoken), np.concatenate([silence(0.5), spoken, silence(2.5)])))
    print(
        f"\n{2 * len(SPLIT)} paused sentences ({args.pause:.1f} s pause) and {len(FINISHED)} finished ones per voice; "
        f"model: first asked after {args.turn_silence_ms} ms of VAD silence, again every {args.recheck_ms} ms, "
        f"threshold {args.threshold}, limit {args.max_silence_ms} ms\n"
    )
    print("| rule | voice | cut too early | end of speech -> decision, median ms | p90 ms | ended by the limit |")
    print("|---|---|---|---|---|---|")
    for rule, config in rules.items():
        for voice in [*args.voices, "all"]:
            cuts = [len(utterances(a, config)) > 1 for v, a in split if voice in (v, "all")]
            waits, by_limit = [], 0
            for v, end, audio in finished:
                if voice not in (v, "all"):
                    continue
                call_ms.clear()
                ended = utterances(audio, config)
                if not ended:
                    continue
                decided, words_at, reason = ended[0]
                by_limit += reason == "max_silence"
                decided += (call_ms[-1] / 1000) if reason == "model" and call_ms else 0.0
                waits.append(1000 * (max(decided, words_at) - end))
            p90 = sorted(waits)[max(0, round(0.9 * len(waits)) - 1)] if waits else float("nan")
            median = statistics.median(waits) if waits else float("nan")
            print(
                f"| {rule} | {voice} | {sum(cuts)} of {len(cuts)} | {median:.0f} | {p90:.0f} | "
                f"{by_limit} of {len(waits)} |",
                flush=True,
            )
    print(f"\nmodel call (features + ONNX, one thread): median {statistics.median(every_call_ms):.0f} ms")
    if asr_ms:
        print(f"early transcript (Whisper tiny.en, lite settings): median {statistics.median(asr_ms):.0f} ms")


if __name__ == "__main__":
    main()
