"""Real phoneme timings from espeak-ng: it speaks the text itself and reports where each phoneme starts.

XTTS gives no timings of its own, so its viseme track is espeak-ng's timing of the same text, scaled to
the length of XTTS's audio. The espeak-ng used is the one inside piper's wheel (`piper/espeakbridge.so`
exports the whole espeak-ng C API, with its data beside it), so nothing is installed from apt; it is
called through ctypes with phoneme events in IPA. espeak-ng is one global engine, hence the lock.
"""

from __future__ import annotations

import ctypes
import threading
from functools import lru_cache
from pathlib import Path

AUDIO_OUTPUT_SYNCHRONOUS = 2
INITIALIZE_PHONEME_EVENTS = 0x0001
INITIALIZE_PHONEME_IPA = 0x0002
INITIALIZE_DONT_EXIT = 0x8000
EVENT_LIST_TERMINATED = 0
EVENT_PHONEME = 7
CHARS_UTF8 = 1
SAMPLE_RATE = 22050
"""espeak-ng's own output rate (the timings are in its samples)."""
VOICES = {"en": "en-us", "zh": "cmn", "pt": "pt-br"}
"""Our language codes -> espeak-ng voice names where they differ."""

_lock = threading.Lock()


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_Callback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


@lru_cache(maxsize=1)
def _library() -> tuple[ctypes.CDLL, bytes]:
    import piper

    folder = Path(piper.__file__).parent
    return ctypes.CDLL(str(folder / "espeakbridge.so")), str(folder / "espeak-ng-data").encode()


def phoneme_timings(text: str, language: str) -> tuple[list[tuple[str, int]], int]:
    """(IPA phoneme, samples it lasts) in order as espeak-ng speaks `text`, and its total samples.

    Pauses (between clauses, at the ends) come as phoneme "" so that they close the mouth.
    """
    lib, data = _library()
    starts: list[tuple[str, int]] = []
    total = [0]

    def collect(_wav: object, samples: int, events: ctypes.Array[_Event]) -> int:
        total[0] += samples
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_PHONEME:
                starts.append((events[i].id.string.decode("utf-8", "replace"), int(events[i].sample)))
            i += 1
        return 0

    callback = _Callback(collect)  # kept referenced until synthesis is over
    encoded = text.encode()
    with _lock:
        # Initialising is 0.1 ms; doing it each time undoes whatever piper's phonemizer set meanwhile.
        flags = INITIALIZE_PHONEME_EVENTS | INITIALIZE_PHONEME_IPA | INITIALIZE_DONT_EXIT
        if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, flags) <= 0:
            raise RuntimeError("espeak-ng did not initialise")
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(VOICES.get(language, language).encode()) != 0:
            lib.espeak_SetVoiceByName(b"en-us")  # an unknown language still gets a mouth that moves
        if lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, CHARS_UTF8, None, None) != 0:
            raise RuntimeError("espeak-ng could not speak the text")
        lib.espeak_Synchronize()
    if not starts:
        return [], total[0]
    pairs = [("", starts[0][1])] if starts[0][1] > 0 else []
    ends = [start for _, start in starts[1:]] + [total[0]]
    pairs += [(phoneme, max(0, end - start)) for (phoneme, start), end in zip(starts, ends, strict=True)]
    return pairs, total[0]
