"""Word error rate and time per utterance of each lite recogniser, by voice and noise level.

    .venv/bin/python -m bench.asr_wer                      # 50 sentences x 5 voices x 3 conditions
    .venv/bin/python -m bench.asr_wer --sentences 10 --voices piper en-us+m3 en+f2

Recognisers: pocketsphinx (the cheapest, tuned on piper's joe voice) and Whisper tiny.en (int8 on
faster-whisper, beam 1, `--threads` CPU threads). Speech: piper's joe voice and espeak-ng voices
(US, British, Scottish, Caribbean English, male and female variants), each sentence padded with 0.2 s of
silence at both ends as the gateway's VAD pads an utterance. Noise: pink (1/f) noise, more like room
and street noise than white noise, added at 10 and 5 dB SNR against the sentence's own power (measured
over the speech, not the padding). Every recogniser decodes the same recordings. Times are wall time
per utterance on whatever else the machine is doing: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from bench.asr_lite import MORE_SENTENCES
from tests.test_asr_lite import SENTENCES as TEST_SENTENCES

SENTENCES = [
    "I lost my keys this morning and the whole day went wrong",
    *TEST_SENTENCES,  # tests/test_asr_lite.py's eight
    *MORE_SENTENCES,  # bench/asr_lite.py's ten
    "what should I cook for dinner tonight",
    "my friend is moving to another city next month",
    "I am angry that the train was late again",
    "could you tell me a joke",
    "the doctor said everything looks fine",
    "I want to learn how to play the guitar",
    "my boss criticised my work in front of everyone",
    "we are planning a trip to the mountains",
    "I spilled coffee all over my new shirt",
    "the children were playing in the garden",
    "I do not know what to do with my life",
    "my cat has been sick for three days",
    "I got a promotion at work",
    "it has been raining all week",
    "I am looking forward to the weekend",
    "my neighbours are very noisy at night",
    "I forgot my best friend's birthday",
    "the new restaurant downtown is wonderful",
    "I feel lonely since my partner left",
    "how do I stop worrying so much",
    "my phone broke and I lost all my photos",
    "we watched a great movie yesterday evening",
    "I have been feeling anxious lately",
    "my brother and I had a big argument",
    "the exam was much easier than I expected",
    "I need to call my mother this afternoon",
    "I am tired of waiting for the bus every morning",
    "my garden is full of flowers this spring",
    "I want to start running again",
    "the meeting went better than I thought",
    "please remind me to buy some milk",
    "I miss the summer holidays",
    "my daughter started school this week",
]
VOICES = ["piper", "en-us+m3", "en+f2", "en-gb-scotland+m1", "en-029+f4"]
"""piper's joe voice, then espeak-ng voice+variant names."""
CONDITIONS: list[float | None] = [None, 10.0, 5.0]
"""Clean, then pink noise at these SNRs (dB)."""
PAD = np.zeros(3200, dtype=np.float32)


@dataclass
class Score:
    errors: int = 0
    words: int = 0
    seconds: list[float] | None = None

    def add(self, errors: int, words: int, seconds: float) -> None:
        self.errors += errors
        self.words += words
        self.seconds = [*(self.seconds or []), seconds]

    def row(self) -> str:
        ms = [1000 * s for s in self.seconds or [0.0]]
        p95 = sorted(ms)[max(0, round(0.95 * len(ms)) - 1)]
        return f"{100 * self.errors / max(1, self.words):.1f} % | {statistics.median(ms):.0f} | {p95:.0f}"


def speak(text: str, voice: str) -> np.ndarray:
    """float32 at 16 kHz."""
    from tests.speech import synthesize
    from tests.test_asr_whisper_lite import espeak_speech

    if voice == "piper":
        samples = synthesize(text, varied=True)  # piper's own renditions, as the figures were measured
    else:
        name, _, variant = voice.partition("+")
        samples = espeak_speech(text, name, variant)
    return samples.astype(np.float32) / 32768


def pink_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    spectrum = np.fft.rfft(rng.normal(size=n))
    spectrum /= np.sqrt(np.maximum(np.fft.rfftfreq(n, 1 / 16000), 20.0))  # 1/f power, flat below 20 Hz
    noise = np.fft.irfft(spectrum, n)
    return np.asarray(noise / np.sqrt(np.mean(noise**2)), dtype=np.float32)


def with_noise(speech: np.ndarray, snr_db: float | None, rng: np.random.Generator) -> np.ndarray:
    audio = np.concatenate([PAD, speech, PAD])
    if snr_db is None:
        return audio
    speech_power = float(np.mean(speech**2))
    noise = pink_noise(len(audio), rng) * np.sqrt(speech_power / 10 ** (snr_db / 10))
    return np.asarray(np.clip(audio + noise, -1.0, 1.0), dtype=np.float32)


def recognisers(
    threads: int, which: list[str], beam: int = 1, windows: tuple[int, ...] = (15,), vad_filter: bool = False
) -> dict[str, Callable[[np.ndarray], str]]:
    found: dict[str, Callable[[np.ndarray], str]] = {}
    from services.asr.settings import AsrSettings

    if "sphinx" in which:
        from services.asr.backends.lite import SphinxBackend

        sphinx = SphinxBackend(AsrSettings())
        found["pocketsphinx"] = lambda audio: sphinx.transcribe(audio, "en").text
    if "whisper" in which:
        from services.asr.backends.whisper_lite import WhisperLiteBackend

        for window in windows:
            whisper = WhisperLiteBackend(
                AsrSettings(
                    whisper_threads=threads,
                    whisper_beam_size=beam,
                    whisper_window_s=window,
                    whisper_vad_filter=vad_filter,
                )
            )
            filtered = ", VAD filter" if vad_filter else ""
            name = f"whisper tiny.en (beam {beam}, {threads} threads, {window} s window{filtered})"

            def transcribe(audio: np.ndarray, whisper: WhisperLiteBackend = whisper) -> str:
                return whisper.transcribe(audio, "en").text

            found[name] = transcribe
    return found


def main() -> None:
    from mrrrme.eval.packaged import edit_distance, words

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sentences", type=int, default=len(SENTENCES), help="how many of the 52 sentences")
    parser.add_argument("--voices", nargs="+", default=VOICES, help="piper and/or espeak-ng voice+variant names")
    parser.add_argument("--recognisers", nargs="+", default=["sphinx", "whisper"], choices=["sphinx", "whisper"])
    parser.add_argument("--threads", type=int, default=2, help="CPU threads for Whisper")
    parser.add_argument("--beam", type=int, default=1, help="Whisper's beam width")
    parser.add_argument(
        "--window", type=int, nargs="+", default=[15], help="Whisper's encoder window in seconds (several: compare)"
    )
    parser.add_argument("--vad-filter", action="store_true", help="also run faster-whisper's Silero filter")
    args = parser.parse_args()
    sentences = SENTENCES[: args.sentences]
    rng = np.random.default_rng(0)
    print(f"synthesizing {len(sentences)} sentences x {len(args.voices)} voices ...", flush=True)
    recordings = [
        (s, v, snr, with_noise(speak(s, v), snr, rng)) for v in args.voices for s in sentences for snr in CONDITIONS
    ]
    scores: dict[tuple[str, str, str], Score] = {}
    for name, recognise in recognisers(
        args.threads, args.recognisers, args.beam, tuple(args.window), args.vad_filter
    ).items():
        recognise(recordings[0][3])  # warm-up
        for sentence, voice, snr, audio in recordings:
            started = time.perf_counter()
            text = recognise(audio)
            seconds = time.perf_counter() - started
            errors, count = edit_distance(words(sentence), words(text)), len(words(sentence))
            condition = "clean" if snr is None else f"{snr:.0f} dB SNR"
            for key in ((name, voice, condition), (name, "all voices", condition)):
                scores.setdefault(key, Score()).add(errors, count, seconds)
        print(f"{name}: done", flush=True)
    print(f"\n{len(sentences)} sentences per voice; pink noise; times in ms per utterance\n")
    print("| recogniser | voice | condition | word error rate | median ms | p95 ms |\n|---|---|---|---|---|---|")
    order = {"clean": 0, "10 dB SNR": 1, "5 dB SNR": 2}
    voices = {v: i for i, v in enumerate([*args.voices, "all voices"])}
    for (name, voice, condition), score in sorted(
        scores.items(), key=lambda kv: (kv[0][0], voices[kv[0][1]], order[kv[0][2]])
    ):
        print(f"| {name} | {voice} | {condition} | {score.row()} |")


if __name__ == "__main__":
    main()
