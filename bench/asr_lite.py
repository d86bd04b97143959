"""Lite ASR (pocketsphinx): decode time and word error rate by padding and decoder options.

    .venv/bin/python -m bench.asr_lite

Sentences are synthesized with piper's joe voice and padded with 0.2 s of silence each side, as the
gateway's VAD pads an utterance. Piper speaks a sentence a little differently each time, so each is
synthesized three times and every configuration decodes the same 54 recordings.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

MORE_SENTENCES = [
    "I am so happy to see you again",
    "today was a terrible day and nothing went right",
    "I think I need a break from everything",
    "my sister called me this morning",
    "the weather is nice so I went outside",
    "I am nervous about the interview tomorrow",
    "I really miss my grandmother",
    "work has been stressful lately",
    "I finally finished my project",
    "nobody listens to me at home",
]
"""Spoken after the eight of tests/test_asr_lite.py."""
GATEWAY_PAD = np.zeros(3200, dtype=np.float32)
LIMITS = {"maxhmmpf": 3000, "maxwpf": 5}
CONFIGURATIONS: list[tuple[float, dict[str, int]]] = [
    *((pad, {"topn": topn}) for pad in (0.3, 0.1, 0.0) for topn in (4, 2)),
    (0.1, {"topn": 2, "maxhmmpf": 3000}),
    (0.1, {"topn": 2, **LIMITS}),
    (0.1, {"topn": 2, **LIMITS, "ds": 2}),
]
"""(extra padding, pocketsphinx options): the padding and `topn` grid, then search limits on top."""


def main() -> None:
    from pocketsphinx import Decoder

    import services.asr.backends.lite as lite
    from mrrrme.eval.packaged import edit_distance, words
    from services.asr.settings import AsrSettings
    from tests.speech import synthesize
    from tests.test_asr_lite import SENTENCES

    audio = [
        (s, np.concatenate([GATEWAY_PAD, synthesize(s, varied=True).astype(np.float32) / 32768, GATEWAY_PAD]))
        for _ in range(3)
        for s in SENTENCES + MORE_SENTENCES
    ]
    print("| extra padding | decoder options | word error rate | median ms | max ms |\n|---|---|---|---|---|")
    for pad, options in CONFIGURATIONS:
        lite.PAD_SECONDS = pad
        backend = lite.SphinxBackend(AsrSettings())
        backend._decoder = Decoder(samprate=16000, loglevel="FATAL", **options)
        backend.transcribe(audio[0][1], "en")  # warm-up
        errors = total = 0
        times = []
        for sentence, samples in audio:
            started = time.perf_counter()
            text = backend.transcribe(samples, "en").text
            times.append(1000 * (time.perf_counter() - started))
            errors += edit_distance(words(sentence), words(text))
            total += len(words(sentence))
        wer = 100 * errors / total
        shown = ", ".join(f"{k}={v}" for k, v in options.items())
        print(f"| {pad} s | {shown} | {wer:.1f} % | {statistics.median(times):.0f} | {max(times):.0f} |", flush=True)


if __name__ == "__main__":
    main()
