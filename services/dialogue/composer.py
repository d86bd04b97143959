"""The lite dialogue backend: a deterministic, persona- and emotion-aware reply composer (no LLM).

A reply is built from three parts: an acknowledgement of the fused emotion (with the masking or
conflict flag when there is one), a reflection of what the person said, and a persona move (the
therapist explores, the coach proposes a step). Each part has several phrasings; the choice is a hash
of the turn id, skipping the phrasings used in the last turns, so the same input gives the same reply
and consecutive replies do not repeat. Brief style keeps one sentence, balanced two, detailed three.
"""

from __future__ import annotations

import hashlib
import re

from mrrrme.contracts import FusedEmotion, Turn

ACKNOWLEDGE = {
    "Happy": ["It sounds like things feel good right now.", "I can hear some lightness in how you say that.",
              "That sounds genuinely good."],
    "Sad": ["That sounds really heavy.", "I can hear how hard this is for you.",
            "It sounds like you're carrying a lot."],
    "Angry": ["It sounds like this really frustrated you.", "I can hear how much that annoyed you.",
              "That sounds genuinely unfair to you."],
    "Neutral": ["Thank you for telling me.", "I'm listening.", "Okay, I follow you."],
}  # fmt: skip
MASKING = ["You're smiling, but your words sound heavier than your face.",
           "Your face looks cheerful, yet what you say sounds hard."]  # fmt: skip
REFLECT = ["You said: {quote}.", "So {quote}.", "I heard that {quote}."]
THERAPIST = ["What do you think is underneath that feeling?", "How long have you been feeling this way?",
             "What would help you feel a bit safer with it?", "What part of it weighs on you most?"]  # fmt: skip
COACH = ["What is one small step you could take today?", "What would a good next move look like?",
         "Let's pick one thing you can change this week.",
         "What has worked for you before in a moment like this?"]  # fmt: skip
GREETING = {
    "therapist": ["Hello, I'm glad you're here. How are you feeling today?",
                  "Hi there. Take your time: what's on your mind today?"],
    "coach": ["Hi! Good to see you. What would you like to work on today?",
              "Hello! What's one thing you'd like to move forward today?"],
}  # fmt: skip
WELCOME_BACK = {
    "therapist": ["Welcome back, it's good to see you again. How have you been since we last talked?",
                  "Hello again. How are things with you since last time?"],
    "coach": ["Welcome back! How did things go since our last session?",
              "Good to see you again! What has moved since last time?"],
}  # fmt: skip
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
    """A short, safe echo of what the person said: first clause, no markup, at most 12 words."""
    clause = re.split(r"[.!?;]", text.strip(), maxsplit=1)[0]
    words = re.sub(r"[^\w\s',-]", "", clause).split()[:12]
    quoted = " ".join(words)
    return quoted[0].lower() + quoted[1:] if quoted else "that"


def compose(turn: Turn, recent: list[str], returning: bool = False) -> tuple[list[str], str, float]:
    """Reply sentences, the avatar's emotion and its intensity. `returning`: the person has a summary
    from an earlier session, so the greeting welcomes them back."""
    avoid = set(recent)
    personality = turn.preferences.personality
    if turn.kind == "greeting":
        options = WELCOME_BACK if returning else GREETING
        return [_pick(options[personality], turn.turn_id, avoid)], "Happy", 0.5
    fused: FusedEmotion | None = turn.fused
    emotion = fused.emotion if fused else "Neutral"
    if fused is not None and fused.masking:
        first = _pick(MASKING, turn.turn_id, avoid)
    else:
        first = _pick(ACKNOWLEDGE[emotion], turn.turn_id, avoid)
    move = _pick(THERAPIST if personality == "therapist" else COACH, turn.turn_id + "move", avoid)
    reflect = _pick(REFLECT, turn.turn_id + "reflect", avoid).format(quote=_quote(turn.text))
    sentences = {1: [first], 2: [first, move], 3: [first, reflect, move]}[SENTENCES[turn.preferences.style]]
    intensity = min(0.8, fused.intensity) if fused else 0.5
    return sentences, REPLY_EMOTION[emotion], intensity
