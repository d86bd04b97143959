"""Rule overrides on top of any text model, each documented here and tested in tests/test_text.py.

Models read the whole sentence; these rules catch the few patterns where a person says outright how
they feel and a model (especially the lite one) can miss it. They act on the 4-class probabilities
[Neutral, Happy, Sad, Angry] and report which rules fired.

1. explicit: a first-person feeling statement ("I am so sad", "I'm furious", "I feel happy",
   "feeling down": the marker at most four words before the emotion word) makes its class at
   least `EXPLICIT_FLOOR` probable.
2. negation: an emotion word with a negator up to three words before it ("not happy",
   "don't feel angry", "never glad") does not count as that emotion: negated happiness moves to Sad
   (being "not happy" is a complaint), negated sadness or anger moves to Neutral.
3. intensifier: "very", "so", "really", "extremely", ... right before an emotion word sharpens the
   distribution (probabilities raised to the power `INTENSIFIER_POWER`, renormalised): the speaker
   means it more.
"""

from __future__ import annotations

import re

import numpy as np

from mrrrme.contracts import EMOTIONS

EXPLICIT_FLOOR = 0.8
INTENSIFIER_POWER = 1.5

EMOTION_WORDS: dict[str, frozenset[str]] = {
    "Happy": frozenset(
        "happy glad joyful cheerful delighted thrilled excited great wonderful fantastic content "
        "grateful relieved good amazing".split()
    ),
    "Sad": frozenset(
        "sad unhappy depressed down miserable lonely heartbroken hopeless gloomy blue devastated hurt empty".split()
    ),
    "Angry": frozenset(
        "angry mad furious annoyed irritated livid pissed outraged enraged frustrated resentful infuriated".split()
    ),
}
WORD_CLASS = {word: emotion for emotion, words in EMOTION_WORDS.items() for word in words}
NEGATORS = frozenset("not no never don't dont doesn't doesnt didn't didnt isn't isnt wasn't wasnt aren't arent "
                     "ain't aint hardly barely n't".split())  # fmt: skip
INTENSIFIERS = frozenset("very so really extremely incredibly super totally truly deeply utterly too".split())
FIRST_PERSON = re.compile(r"\b(i'm|im|i am|i feel|i felt|i was|i've been|ive been|feeling|makes? me|made me)\b")
TOKEN = re.compile(r"[a-z]+(?:'[a-z]+)?")


def tokens(text: str) -> list[str]:
    return TOKEN.findall(text.lower().replace("’", "'"))


def _normalise(p: np.ndarray) -> np.ndarray:
    return np.asarray(p / p.sum())


def apply(text: str, probabilities: list[float]) -> tuple[list[float], list[str]]:
    """The adjusted probabilities and the names of the rules that fired."""
    p = np.asarray(probabilities, dtype=np.float64)
    fired: list[str] = []
    words = tokens(text)
    for i, word in enumerate(words):
        emotion = WORD_CLASS.get(word)
        if emotion is None:
            continue
        before = words[max(0, i - 3) : i]
        if any(w in NEGATORS or w.endswith("n't") for w in before):
            source = EMOTIONS.index(emotion)
            target = EMOTIONS.index("Sad" if emotion == "Happy" else "Neutral")
            p[target] += p[source] * 0.8
            p[source] *= 0.2
            fired.append(f"negation:{word}")
            continue
        if FIRST_PERSON.search(" ".join(words[max(0, i - 4) : i])):
            index = EMOTIONS.index(emotion)
            if p[index] < EXPLICIT_FLOOR:
                rest = 1.0 - p[index]
                scale = (1.0 - EXPLICIT_FLOOR) / rest if rest > 0 else 0.0
                p = p * scale
                p[index] = EXPLICIT_FLOOR
            fired.append(f"explicit:{word}")
        if i > 0 and words[i - 1] in INTENSIFIERS:
            p = _normalise(p**INTENSIFIER_POWER)
            fired.append(f"intensifier:{words[i - 1]}")
    return [float(x) for x in _normalise(p)], fired
