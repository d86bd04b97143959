"""Whether a transcript's words leave the sentence unfinished: the second opinion on the end of a turn.

Smart Turn (gateway/turn.py) judges the end of a turn from the sound alone, and a pause after "I went to
the store and" can sound final (on synthesized speech it often does: bench/end_of_turn.py). The early
transcript (gateway/speculation.py) is on its way at that moment anyway, and its words settle many such
cases: Whisper itself writes a sentence it hears broken off with a trailing "..." ("I went to the store
and..."), and no finished English sentence ends on an article, a conjunction or an infinitive "to".

So the segmenter (gateway/vad.py) ends a turn the model called complete only when its words do not say
otherwise. The rule errs towards waiting: a false "unfinished" ("Yes, I'd love to.") costs the long
silence limit (~1.6 s) once, a false "finished" cuts a person off mid-sentence. English only, like the
lite recogniser; a transcript in another language (the full profile) seldom ends on these words, so the
rule then mostly stands aside.
"""

from __future__ import annotations

import re

OPEN_ENDINGS = ("...", "\u2026", ",", ";", ":", "-", "\u2013", "\u2014")
"""Trailing punctuation of a sentence that goes on: Whisper's ellipsis for a broken-off sentence, a comma."""
CLOSED_ENDINGS = ("?", "!")
"""A question or an exclamation is finished, whatever word it ends on ("Where are you from?")."""
DANGLING_WORDS = frozenset(
    {
        # articles and possessive determiners: a noun must follow
        "a", "an", "the", "my", "your", "our", "their", "its", "every",
        # conjunctions: a clause must follow
        "and", "but", "or", "nor", "because", "although", "unless", "whether", "than", "if",
        # an infinitive marker and prepositions that are rarely left at the end of a statement
        "to", "of", "with", "from",
    }
)  # fmt: skip
"""Words that do not end an English statement. Deliberately short: auxiliaries ("Yes, I am."), pronouns
("So do I.") and phrasal-verb particles ("Come in.") do end sentences, so they are not here."""

_LAST_WORD = re.compile(r"([a-z']+)\W*$")


def sounds_unfinished(text: str) -> bool:
    """True when the words of `text` say the speaker has not finished the sentence."""
    stripped = text.strip()
    if not stripped or stripped.endswith(CLOSED_ENDINGS):
        return False
    if stripped.endswith(OPEN_ENDINGS):
        return True
    last = _LAST_WORD.search(stripped.lower())
    return last is not None and last.group(1) in DANGLING_WORDS
