"""Full TTS: Coqui XTTS v2 through the maintained `coqui-tts` package (speakers Ana Florence and Damien
Black, 16 languages). XTTS gives no phoneme timings, so the viseme track is espeak-ng's own timing of
the same text (`services/tts/espeak.py`), scaled to the length of the audio XTTS produced.

XTTS v2's config, vocabulary and weights come only from the Hugging Face hub (licence: CPML,
non-commercial) and cannot be fetched in this project's sandbox. The loading and synthesis path is
tested on a tiny random-weight XTTS built in the test (tests/test_tts_xtts.py) where coqui-tts can be
imported; real weights are exercised only on a machine that has them.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError, resolve_device
from services.tts import espeak, visemes
from services.tts.backends import Speech
from services.tts.settings import TtsSettings

XTTS_RATE = 24000
XTTS_LANGUAGES = {"zh": "zh-cn"}
"""Our language codes -> XTTS's where they differ."""


def scaled_track(
    timings: list[tuple[str, int]], espeak_samples: int, total_samples: int, sample_rate: int
) -> list[Any]:
    """espeak-ng's timings stretched to another voice's audio: the track ends where that audio ends."""
    scale = total_samples / espeak_samples if espeak_samples else 0.0
    return visemes.track([(phoneme, round(samples * scale)) for phoneme, samples in timings], sample_rate)


class XttsBackend:
    def __init__(self, settings: TtsSettings) -> None:
        try:
            from TTS.api import TTS
        except ImportError as exc:
            reason = " ".join(str(exc).split())[:160] or type(exc).__name__
            raise StartupError(
                f"coqui-tts cannot be imported ({reason}): pip install -e '.[full]' (coqui-tts with torchaudio and "
                "torchcodec); XTTS v2 weights are CPML, non-commercial"
            ) from None
        local = Path(settings.model).expanduser()
        # Coqui's own cache: TTS_HOME, else the user's data directory (XDG_DATA_HOME or ~/.local/share).
        data = Path(os.environ.get("TTS_HOME") or os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
        cache = data / "tts" / settings.model.replace("/", "--")
        if not local.is_dir() and not cache.is_dir():
            raise StartupError(
                f"tts: XTTS v2 weights for {settings.model!r} are not on this machine; fetch them where the hub is "
                "reachable with `COQUI_TOS_AGREED=1 make models` (CPML licence, non-commercial) and set "
                "MRRRME_TTS_MODEL to the directory it prints"
            )
        self.settings = settings
        if local.is_dir():  # a checkpoint directory: config.json, model.pth, vocab.json, speakers_xtts.pth
            self._tts: Any = TTS(model_path=str(local), config_path=str(local / "config.json"))
        else:
            self._tts = TTS(model_name=settings.model)
        self._tts.to(resolve_device(settings.device))
        self.languages: list[str] = list(self._tts.synthesizer.tts_config.languages)
        speakers = set(self._tts.speakers or [])
        missing = {settings.female_speaker, settings.male_speaker} - speakers
        if missing:
            raise StartupError(f"tts: the XTTS model has no speaker {sorted(missing)}; it has {sorted(speakers)[:8]}")

    def synthesize(self, text: str, voice: str, language: str) -> Speech:
        speaker = self.settings.male_speaker if voice == "male" else self.settings.female_speaker
        spoken = XTTS_LANGUAGES.get(language, language)
        if spoken not in self.languages:
            spoken = "en"  # a language XTTS lacks is read with English phonetics rather than refused
        audio = np.asarray(self._tts.tts(text=text, speaker=speaker, language=spoken), dtype=np.float32)
        pcm = (np.clip(audio, -1, 1) * 32767).astype("<i2")
        timings, espeak_samples = espeak.phoneme_timings(text, language)
        track = scaled_track(timings, espeak_samples, len(pcm), XTTS_RATE)
        return Speech(pcm=pcm.tobytes(), sample_rate=XTTS_RATE, visemes=track)
