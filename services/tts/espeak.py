"""espeak-ng's own speech with real phoneme timings: it reports where each phoneme starts in its audio.

Two uses: XTTS gives no timings of its own, so its viseme track is espeak-ng's timing of the same
text scaled to the length of XTTS's audio; and the lite TTS speaks languages other than English with
espeak-ng's voice for them (piper's joe voice is English only).

The espeak-ng used is the one inside piper's wheel (`piper/espeakbridge.so` exports the whole
espeak-ng C API, with its data beside it), so nothing is installed from apt; it is called through
ctypes with phoneme events in IPA. espeak-ng is one global engine per process, shared with piper's
own phonemizer (the same library), and it crashes when two threads use it at once (seen as a segfault
in a full test run; piper on one thread and `speak` on another reproduce it within seconds): every
caller, ours and piper's, holds `ENGINE`.
"""

from __future__ import annotations

import ctypes
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

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

ENGINE = threading.Lock()
"""Held by whoever uses espeak-ng in this process: `speak` here, and piper's synthesis (it phonemizes)."""


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
    lib = ctypes.CDLL(str(folder / "espeakbridge.so"))
    # Declared, so that ctypes passes each argument at its C width (size_t is 64 bits, not an int).
    lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
    lib.espeak_Initialize.restype = ctypes.c_int
    lib.espeak_SetSynthCallback.argtypes = [_Callback]
    lib.espeak_SetSynthCallback.restype = None
    lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
    lib.espeak_SetVoiceByName.restype = ctypes.c_int
    lib.espeak_Synth.argtypes = [
        ctypes.c_void_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
        ctypes.POINTER(ctypes.c_uint), ctypes.c_void_p,
    ]  # fmt: skip
    lib.espeak_Synth.restype = ctypes.c_int
    lib.espeak_Synchronize.argtypes = []
    lib.espeak_Synchronize.restype = ctypes.c_int
    return lib, str(folder / "espeak-ng-data").encode()


@dataclass(frozen=True)
class Spoken:
    pcm: np.ndarray
    """int16 samples at SAMPLE_RATE."""
    timings: list[tuple[str, int]]
    """(IPA phoneme, samples it lasts) in order; pauses (between clauses, at the ends) are phoneme ""."""


def speak(text: str, language: str, variant: str = "") -> Spoken:
    """espeak-ng's own speech of `text` in `language` (its voice for it; `variant` such as "f3" for a
    female one), with where each phoneme lies in that audio."""
    lib, data = _library()
    starts: list[tuple[str, int]] = []
    chunks: list[np.ndarray] = []

    def collect(wav: ctypes._Pointer[ctypes.c_short], samples: int, events: ctypes.Array[_Event]) -> int:
        if samples > 0 and wav:
            chunks.append(np.ctypeslib.as_array(wav, shape=(samples,)).copy())
        i = 0
        while events[i].type != EVENT_LIST_TERMINATED:
            if events[i].type == EVENT_PHONEME:
                starts.append((events[i].id.string.decode("utf-8", "replace"), int(events[i].sample)))
            i += 1
        return 0

    callback = _Callback(collect)  # kept referenced until synthesis is over
    encoded = text.encode()
    voice = VOICES.get(language, language) + (f"+{variant}" if variant else "")
    with ENGINE:
        # Initialising is 0.1 ms; doing it each time undoes whatever piper's phonemizer set meanwhile.
        flags = INITIALIZE_PHONEME_EVENTS | INITIALIZE_PHONEME_IPA | INITIALIZE_DONT_EXIT
        if lib.espeak_Initialize(AUDIO_OUTPUT_SYNCHRONOUS, 0, data, flags) <= 0:
            raise RuntimeError("espeak-ng did not initialise")
        lib.espeak_SetSynthCallback(callback)
        if lib.espeak_SetVoiceByName(voice.encode()) != 0:
            lib.espeak_SetVoiceByName(b"en-us")  # an unknown language still gets a voice and a moving mouth
        if lib.espeak_Synth(encoded, len(encoded) + 1, 0, 0, 0, CHARS_UTF8, None, None) != 0:
            raise RuntimeError("espeak-ng could not speak the text")
        lib.espeak_Synchronize()
    pcm = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int16)
    if not starts:
        return Spoken(pcm=pcm, timings=[])
    timings = [("", starts[0][1])] if starts[0][1] > 0 else []
    ends = [start for _, start in starts[1:]] + [len(pcm)]
    timings += [(phoneme, max(0, end - start)) for (phoneme, start), end in zip(starts, ends, strict=True)]
    return Spoken(pcm=pcm, timings=timings)


def phoneme_timings(text: str, language: str) -> tuple[list[tuple[str, int]], int]:
    """espeak-ng's phoneme timings of `text` and the length of its audio, in samples."""
    spoken = speak(text, language)
    return spoken.timings, len(spoken.pcm)
