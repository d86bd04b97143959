"""Lite ASR (pocketsphinx): decode time and word error rate by padding and `topn`.

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


def main() -> None:
    from pocketsphinx import Decoder

    import services.asr.backends.lite as lite
    from tests.speech import synthesize
    from tests.test_asr_lite import SENTENCES, edit_distance, words

    audio = [
        (s, np.concatenate([GATEWAY_PAD, synthesize(s).astype(np.float32) / 32768, GATEWAY_PAD]))
        for _ in range(3)
        for s in SENTENCES + MORE_SENTENCES
    ]
    print("| extra padding | topn | word error rate | median ms | max ms |\n|---|---|---|---|---|")
    for pad in (0.3, 0.1, 0.0):
        for topn in (4, 2):
            lite.PAD_SECONDS = pad
            backend = lite.SphinxBackend()
            backend._decoder = Decoder(samprate=16000, topn=topn, loglevel="FATAL")
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
            print(f"| {pad} s | {topn} | {wer:.1f} % | {statistics.median(times):.0f} | {max(times):.0f} |")


if __name__ == "__main__":
    main()
