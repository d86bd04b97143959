"""How a reply is cut into the pieces tts speaks: the first sentence's opening clause goes on its own.

tts synthesizes a piece whole before any of it is heard (the lite piper voice: ~60 ms per second of
speech on this 2-core machine, so a 4 s first sentence is ~250 ms more silence before the reply starts,
bench/voice_to_voice.py). Its opening clause ("Okay," "That sounds hard,") is spoken while the rest of the
sentence is synthesized, so the reply starts sooner; later sentences are synthesized while earlier ones
play, so they are left whole. The cut is made only at a written pause (a comma, semicolon, colon or dash),
where the voice pauses anyway, and the pieces joined with a space are the sentence again (the client
shows them so, and the history keeps them so).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator

CLAUSE_END = re.compile(r"[,;:]\s+|\s+[-–—]\s+")
"""A written pause: punctuation followed by a space ("1,000" is no pause), or a spaced dash."""
MIN_REST_WORDS = 3
"""Words the rest must keep: a short rest ("Well, yes.") is quick to synthesize whole anyway."""


def opening_clause(sentence: str) -> tuple[str, str] | None:
    """(the opening clause with its mark, the rest), or None when the sentence has no such pause."""
    for pause in CLAUSE_END.finditer(sentence):
        head, rest = sentence[: pause.end()].strip(), sentence[pause.end() :].strip()
        if len(rest.split()) < MIN_REST_WORDS:
            return None
        if re.search(r"\w", head):
            return head, rest
    return None


def first_pieces(sentence: str) -> list[str]:
    """The first sentence as it is spoken: its opening clause and the rest, or the sentence whole."""
    parts = opening_clause(sentence)
    return [sentence] if parts is None else list(parts)


async def opening_clause_apart(sentences: AsyncIterator[str]) -> AsyncIterator[str]:
    """The reply's sentences as they come, the first one's opening clause split off."""
    first = True
    async for sentence in sentences:
        for piece in first_pieces(sentence) if first else [sentence]:
            yield piece
        first = False
