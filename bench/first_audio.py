"""Time to the reply's first audio in tts: the first sentence whole vs its opening clause apart.

    .venv/bin/python -m bench.first_audio

The lite composer answers a set of turns (every emotion and style); for each reply the lite piper voice
synthesizes the first piece as dialogue now sends it (services/dialogue/pacing.py: the first sentence's
opening clause on its own, when it has one) and, in the same round, the whole first sentence as before.
Both are timed (median of 3). A split reply also reports whether the rest of the sentence is synthesized
before the opening clause has finished playing: if not, the listener hears a gap at that comma.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mrrrme.contracts import Emotion, Style

MOODS: list[Emotion] = ["Happy", "Sad", "Angry", "Neutral"]
STYLES: list[Style] = ["brief", "balanced", "detailed"]
TURNS = [
    "I had a really long day at work today",
    "I feel a bit tired and sad tonight",
    "Can you help me relax a little",
    "My friend called me and we laughed a lot",
    "I am worried about my exams next week",
    "hello",
]


def timed(synthesize: Callable[[str, str, str], Any], text: str) -> tuple[float, float]:
    """(median seconds to synthesize `text`, seconds of audio)."""
    runs, audio_s = [], 0.0
    for _ in range(3):
        started = time.perf_counter()
        speech = synthesize(text, "female", "en")
        runs.append(time.perf_counter() - started)
        audio_s = len(speech.pcm) / 2 / speech.sample_rate
    return statistics.median(runs), audio_s


def main() -> None:
    from mrrrme.contracts import EMOTIONS, FusedEmotion, Preferences, Turn
    from services.dialogue import composer
    from services.dialogue.pacing import opening_clause
    from services.tts.backends import BACKENDS
    from services.tts.settings import TtsSettings

    tts = BACKENDS.create(TtsSettings())
    tts.synthesize("Hello.", "female", "en")
    whole_ms, first_ms, gaps, split = [], [], 0, 0
    split_whole_ms, split_first_ms = [], []
    recent: list[str] = []
    for mood in MOODS:
        for style in STYLES:
            for text in TURNS:
                probabilities = [0.7 if name == mood else 0.1 for name in EMOTIONS]  # in EMOTIONS' order
                fused = FusedEmotion(
                    session_id="b", utterance_id=None, emotion=mood, intensity=0.6, probabilities=probabilities
                )
                turn = Turn(session_id="b", turn_id="t", text=text, fused=fused, preferences=Preferences(style=style))
                reply = composer.compose(turn, recent)[0]
                recent.append(" ".join(reply))
                whole, _ = timed(tts.synthesize, reply[0])
                parts = opening_clause(reply[0])
                whole_ms.append(whole * 1000)
                if parts is None:
                    first_ms.append(whole * 1000)
                    continue
                split += 1
                head, head_audio = timed(tts.synthesize, parts[0])
                rest, _ = timed(tts.synthesize, parts[1])
                first_ms.append(head * 1000)
                split_whole_ms.append(whole * 1000)
                split_first_ms.append(head * 1000)
                gaps += rest > head_audio
    n = len(whole_ms)
    print(f"{n} replies of the lite composer; {split} with an opening clause apart")
    print("| first piece | median ms | p90 ms | mean ms |")
    print("|---|---|---|---|")
    for name, values in (("first sentence whole", whole_ms), ("opening clause apart", first_ms)):
        p90 = sorted(values)[round(0.9 * (n - 1))]
        print(f"| {name} | {statistics.median(values):.0f} | {p90:.0f} | {statistics.mean(values):.0f} |")
    if split:
        print(f"the {split} split replies alone: first sentence whole {statistics.median(split_whole_ms):.0f} ms, "
              f"opening clause {statistics.median(split_first_ms):.0f} ms (medians)")  # fmt: skip
    print(f"split replies whose rest was not ready when the opening clause ended (a gap): {gaps} of {split}")


if __name__ == "__main__":
    main()
