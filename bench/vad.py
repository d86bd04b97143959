"""Silero VAD cost in the gateway: time per 32 ms chunk over synthesized speech with pauses.

.venv/bin/python -m bench.vad
"""

from __future__ import annotations

import platform
import time

from gateway.vad import CHUNK, SAMPLE_RATE, Segmenter, SileroVad
from tests.speech import sentences_with_pauses


def main() -> None:
    audio = sentences_with_pauses(
        ["Hello there, I had a long day at work.", "It was quite stressful, honestly.", "Can you help me?"]
    )
    vad = SileroVad()
    data = audio.tobytes()
    runs = []
    for _ in range(5):
        segmenter = Segmenter(vad, clock=0.0)
        started = time.perf_counter()
        utterances = 0
        for offset in range(0, len(data), 1280):
            utterances += sum(e.kind == "utterance" for e in segmenter.feed(data[offset : offset + 1280]))
        runs.append(time.perf_counter() - started)
    seconds = len(audio) / SAMPLE_RATE
    chunks = len(audio) // CHUNK
    best = min(runs)
    print(f"machine: {platform.processor() or platform.machine()}, {platform.python_version()}")
    print(f"audio: {seconds:.1f} s, {chunks} chunks of {CHUNK} samples, {utterances} utterances")
    print(f"best of 5: {best * 1000:.1f} ms total, {best / chunks * 1000:.3f} ms per chunk")
    print(f"real-time factor: {best / seconds:.4f} ({best / seconds * 100:.2f} % of one core per live session)")


if __name__ == "__main__":
    main()
