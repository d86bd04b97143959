"""Phonemes (IPA, as espeak-ng writes them) -> the Oculus 15 visemes, with times from real alignments.

Oculus set: sil PP FF TH DD kk CH SS nn RR aa E I O U. Stress and length marks (ˈ ˌ ː) lengthen the
sound before them; spaces and punctuation close the mouth (sil). Consecutive equal visemes merge, so
the track lists mouth *changes*.
"""

from __future__ import annotations

from collections.abc import Iterable

from mrrrme.contracts import Viseme

PHONEME_TO_VISEME: dict[str, str] = {
    **dict.fromkeys("pbm", "PP"),
    **dict.fromkeys("fv", "FF"),
    **dict.fromkeys("θð", "TH"),
    **dict.fromkeys("tdɾ", "DD"),
    **dict.fromkeys("kgŋhxɣχ", "kk"),
    **dict.fromkeys("ʃʒ", "CH"),
    **dict.fromkeys("sz", "SS"),
    **dict.fromkeys("nlɫ", "nn"),
    **dict.fromkeys("ɹrɚɝ", "RR"),
    **dict.fromkeys("aɑæʌɐ", "aa"),
    **dict.fromkeys("ɛeəɜ", "E"),
    **dict.fromkeys("iɪj", "I"),
    **dict.fromkeys("oɔɒ", "O"),
    **dict.fromkeys("uʊw", "U"),
}
LENGTHENERS = frozenset("ˈˌː")


def viseme_of(phoneme: str) -> str | None:
    """The viseme of one phoneme symbol; None for a mark that lengthens the previous sound."""
    if phoneme and all(ch in LENGTHENERS for ch in phoneme):
        return None
    for ch in phoneme:
        if ch in PHONEME_TO_VISEME:
            return PHONEME_TO_VISEME[ch]
    return "sil"


def track(alignments: Iterable[tuple[str, int]], sample_rate: int) -> list[Viseme]:
    """(phoneme, samples) pairs in order -> viseme changes with start times in seconds."""
    result: list[Viseme] = []
    position = 0
    for phoneme, samples in alignments:
        viseme = viseme_of(phoneme)
        if viseme is not None and (not result or result[-1].viseme != viseme):
            result.append(Viseme(t=round(position / sample_rate, 4), viseme=viseme))  # type: ignore[arg-type]
        position += int(samples)
    if not result or result[-1].viseme != "sil":
        result.append(Viseme(t=round(position / sample_rate, 4), viseme="sil"))
    return result
