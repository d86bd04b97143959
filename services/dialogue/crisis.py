"""Crisis language, detected before any model sees the turn, answered with a vetted safe reply.

Patterns (lower-cased, apostrophes normalised) in five groups: explicit suicidal intent, passive
ideation, method-seeking, self-harm, and harm to others. Only a counter is logged, never the words.
The reply follows safe-messaging practice: acknowledge, do not lecture, point to people who can help
now, keep the conversation open.
"""

from __future__ import annotations

import re

PATTERNS: dict[str, list[str]] = {
    "explicit": [
        r"\b(kill|killing|end|ending|take|taking)\s+(myself|my\s+(own\s+)?life)\b",
        r"\bsuicid(e|al)\b",
        r"\b(want|going|plan(ning)?|ready)\s+to\s+die\b",
        r"\bi\s*('m| am)\s+going\s+to\s+(do\s+it|end\s+it)\b",
    ],
    "passive": [
        r"\b(wish|want)\s+(i\s+(was|were)\s+)?(dead|not\s+alive|gone|never\s+born)\b",
        r"\b(no|don'?t\s+see\s+(a|any))\s+(reason|point)\s+(to|in)\s+(live|living|go(ing)?\s+on)\b",
        r"\bbetter\s+off\s+(dead|without\s+me)\b",
        r"\bcan'?t\s+go\s+on\b",
        r"\bdon'?t\s+want\s+to\s+(be\s+alive|live|wake\s+up)\b",
    ],
    "method": [
        r"\bhow\s+(many|much)\s+\w+\s+(would\s+it\s+take\s+)?to\s+(die|overdose|kill)\b",
        r"\b(lethal|fatal)\s+(dose|amount)\b",
        r"\b(best|easiest|painless)\s+way\s+to\s+(die|kill\s+myself|end\s+it)\b",
    ],
    "self_harm": [
        r"\b(cut|cutting|hurt|hurting|harm|harming|burn|burning)\s+myself\b",
        r"\bself[-\s]?harm\b",
    ],
    "harm_others": [
        r"\b(kill|hurt|shoot|stab)\s+(him|her|them|someone|somebody|my\s+\w+)\b",
    ],
}
COMPILED = {group: [re.compile(p) for p in patterns] for group, patterns in PATTERNS.items()}

RESOURCES = {
    "en": "If you are in the US you can call or text 988; in the UK or Ireland call Samaritans on 116 123; "
    "across the EU, 112 reaches emergency services.",
}


def detect(text: str) -> str | None:
    """The crisis group the text falls into, or None."""
    normalised = text.lower().replace("’", "'")
    for group, patterns in COMPILED.items():
        if any(pattern.search(normalised) for pattern in patterns):
            return group
    return None


def safe_reply(group: str) -> list[str]:
    """The vetted reply, as sentences (so it streams and is spoken like any other)."""
    first = (
        "I'm really glad you told me, and I'm worried about the safety of the people around you."
        if group == "harm_others"
        else "I'm really sorry you're feeling this much pain, and I'm glad you told me."
    )
    return [
        first,
        "You deserve support from a person right now, not only from an AI.",
        RESOURCES["en"],
        "If you are in immediate danger, please call your local emergency number.",
        "I'm here to keep talking with you while you reach out.",
    ]
