"""Full TTS: Coqui XTTS v2 through the maintained `coqui-tts` package (speakers Ana Florence and Damien
Black, 16 languages). XTTS gives no phoneme timings, so the viseme track comes from espeak-ng's
phonemes of the same text (piper's bundled espeak-ng) with durations weighted by phoneme class
(vowels 2, consonants 1, pauses 1.5) and scaled to the length of the audio XTTS produced.

XTTS v2's config, vocabulary and weights come only from the Hugging Face hub (licence: CPML,
non-commercial) and cannot be fetched in this project's sandbox; coqui-tts also needs torchaudio, which
has no build for the sandbox's torch 2.13.0 CPU wheel. So here this backend is exercised only up to its
clear start-up error; the viseme timing is tested on its own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError, resolve_device
from services.tts import visemes
from services.tts.backends import Speech
from services.tts.settings import TtsSettings

XTTS_RATE = 24000
ESPEAK_VOICES = {"en": "en-us", "zh": "cmn", "pt": "pt-br"}


def phoneme_weights(phonemes: list[str]) -> list[tuple[str, float]]:
    weighted = []
    for phoneme in phonemes:
        viseme = visemes.viseme_of(phoneme)
        if viseme is None:
            weighted.append((phoneme, 0.5))
        elif viseme in ("aa", "E", "I", "O", "U"):
            weighted.append((phoneme, 2.0))
        elif viseme == "sil":
            weighted.append((phoneme, 1.5))
        else:
            weighted.append((phoneme, 1.0))
    return weighted


def scaled_track(phonemes: list[str], total_samples: int, sample_rate: int) -> list[Any]:
    """Spread the phonemes over the audio by weight: the track ends where the audio ends."""
    weighted = phoneme_weights(phonemes)
    total = sum(w for _, w in weighted) or 1.0
    return visemes.track([(p, round(w / total * total_samples)) for p, w in weighted], sample_rate)


def espeak_phonemes(text: str, language: str) -> list[str]:
    from piper.phonemize_espeak import EspeakPhonemizer

    sentences = EspeakPhonemizer().phonemize(ESPEAK_VOICES.get(language, language), text)
    return [p for sentence in sentences for p in sentence]


class XttsBackend:
    name = "full"

    def __init__(self, settings: TtsSettings) -> None:
        try:
            from TTS.api import TTS
        except ImportError as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise StartupError(
                f"coqui-tts cannot be imported ({reason}): install coqui-tts with the torchaudio build that matches "
                "your torch (the GPU image does); XTTS v2 weights are CPML, non-commercial"
            ) from None
        local = Path(settings.model)
        cache = Path.home() / ".local" / "share" / "tts" / settings.model.replace("/", "--")
        if not local.is_dir() and not cache.is_dir():
            raise StartupError(
                f"tts: XTTS v2 weights for {settings.model!r} are not on this machine; fetch them where the hub is "
                "reachable (`make models` does not cover XTTS: run `tts --model_name "
                f"{settings.model} --list_speaker_idxs` once, accepting the CPML licence) or set MRRRME_TTS_MODEL "
                "to a local directory"
            )
        self.settings = settings
        self._tts: Any = TTS(model_path=str(local) if local.is_dir() else None,
                             model_name=None if local.is_dir() else settings.model)  # fmt: skip
        self._tts.to(resolve_device(settings.device))

    def synthesize(self, text: str, voice: str, language: str) -> Speech:
        speaker = self.settings.male_speaker if voice == "male" else self.settings.female_speaker
        audio = np.asarray(self._tts.tts(text=text, speaker=speaker, language=language), dtype=np.float32)
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        track = scaled_track(espeak_phonemes(text, language), len(pcm), XTTS_RATE)
        return Speech(pcm=pcm.tobytes(), sample_rate=XTTS_RATE, visemes=track)
