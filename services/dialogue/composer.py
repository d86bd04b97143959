"""The lite dialogue backend: a deterministic, persona- and emotion-aware reply composer (no LLM).

A reply is built from three parts: an acknowledgement of the fused emotion (with the masking or
conflict flag when there is one), a reflection of what the person said, and a persona move (the
therapist explores, the coach proposes a step), in the reply language of the preferences (`phrases.py`
has a book per language the web client offers). Each part has several phrasings; the choice is a hash
of the turn id, skipping the phrasings used in the last turns, so the same input gives the same reply
and consecutive replies do not repeat. Brief style keeps one sentence, balanced two, detailed three.
"""

from __future__ import annotations

import hashlib
import re

from mrrrme.contracts import FusedEmotion, Turn
from mrrrme.emotions import CONFIDENT
from services.dialogue.phrases import book

SENTENCES = {"brief": 1, "balanced": 2, "detailed": 3}
REPLY_EMOTION = {"Happy": "Happy", "Sad": "Sad", "Angry": "Neutral", "Neutral": "Neutral"}
"""The avatar mirrors joy and sadness gently and meets anger calmly."""


def _pick(options: list[str], key: str, avoid: set[str]) -> str:
    start = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16)
    for offset in range(len(options)):
        choice = options[(start + offset) % len(options)]
        if choice not in avoid:
            return choice
    return options[start % len(options)]


def _quote(text: str) -> str:
    """A short, safe echo of what the person said, word for word inside quotation marks: the first
    clause, no markup, at most 12 words."""
    clause = re.split(r"[.!?;]", re.sub(r"<[^>]{0,200}>", " ", text).strip(), maxsplit=1)[0]
    words = re.sub(r"[^\w\s',-]", "", clause).split()[:12]
    return " ".join(words) or "…"


def _masked_by(fused: FusedEmotion) -> str:
    """What the smile is at odds with: the words when they say Sad or Angry, otherwise the voice."""
    words = fused.text.reading if fused.text else None
    heavy_words = words is not None and words.emotion in ("Sad", "Angry") and words.confidence >= CONFIDENT
    return "text" if heavy_words else "voice"


def compose(turn: Turn, recent: list[str], returning: bool = False) -> tuple[list[str], str, float]:
    """Reply sentences, the avatar's emotion and its intensity. `returning`: the person has a summary
    from an earlier session, so the greeting welcomes them back."""
    avoid = set(recent)
    phrases = book(turn.preferences.language)
    personality = turn.preferences.personality
    if turn.kind == "greeting":
        options = phrases.welcome_back if returning else phrases.greeting
        return [_pick(options[personality], turn.turn_id, avoid)], "Happy", 0.5
    fused: FusedEmotion | None = turn.fused
    emotion = fused.emotion if fused else "Neutral"
    if fused is not None and fused.masking:
        first = _pick(phrases.masking[_masked_by(fused)], turn.turn_id, avoid)
    else:
        first = _pick(phrases.acknowledge[emotion], turn.turn_id, avoid)
    if personality == "coach":
        moves = phrases.coach
    else:  # asking what weighs on someone who just said something good would not fit
        happy = emotion == "Happy" and not (fused is not None and fused.masking)
        moves = phrases.savour if happy else phrases.therapist
    move = _pick(moves, turn.turn_id + "move", avoid)
    reflect = _pick(phrases.reflect, turn.turn_id + "reflect", avoid).format(quote=_quote(turn.text))
    sentences = {1: [first], 2: [first, move], 3: [first, reflect, move]}[SENTENCES[turn.preferences.style]]
    if fused is not None and fused.masking:
        return sentences, "Neutral", 0.4  # calm attention: not the smile the words contradict
    intensity = min(0.8, fused.intensity) if fused else 0.5
    return sentences, REPLY_EMOTION[emotion], intensity
