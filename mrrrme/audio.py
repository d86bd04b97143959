"""Checks and conversions for the PCM16 audio that utterances carry, shared by asr and voice."""

from __future__ import annotations

import numpy as np

from mrrrme.contracts import Utterance
from mrrrme.runtime import BadInput

SAMPLE_RATE = 16000
FRAME = 640  # 40 ms: at least two periods of a 60 Hz voice
HOP = 160  # 10 ms
MIN_PITCH_HZ, MAX_PITCH_HZ = 60.0, 400.0
MIN_VOICED_SECONDS = 0.12
STEADY_TONE_SEMITONES = 0.1


def utterance_audio(utterance: Utterance, max_seconds: float) -> np.ndarray:
    """The utterance as float32 samples in [-1, 1], or BadInput saying what is wrong with it.

    PCM16 cannot hold NaN or infinity; what can go wrong is the length, the byte count and the rate.
    """
    if utterance.sample_rate != SAMPLE_RATE:
        raise BadInput("unsupported_rate", f"audio must be 16 kHz, got {utterance.sample_rate} Hz")
    if not utterance.pcm:
        raise BadInput("empty_audio", "the utterance holds no audio")
    if len(utterance.pcm) % 2:
        raise BadInput("invalid_audio", "PCM16 audio needs an even number of bytes")
    seconds = len(utterance.pcm) / 2 / SAMPLE_RATE
    if seconds > max_seconds:
        raise BadInput("audio_too_long", f"the utterance lasts {seconds:.0f} s; the limit is {max_seconds:.0f} s")
    return np.frombuffer(utterance.pcm, dtype="<i2").astype(np.float32) / 32768.0


def frames_of(audio: np.ndarray) -> np.ndarray:
    if len(audio) < FRAME:
        audio = np.pad(audio, (0, FRAME - len(audio)))
    count = 1 + (len(audio) - FRAME) // HOP
    index = np.arange(FRAME)[None, :] + HOP * np.arange(count)[:, None]
    return np.asarray(audio[index])


def pitch_track(frames: np.ndarray) -> np.ndarray:
    """Pitch per frame by normalised autocorrelation (Hz), 0 where unvoiced."""
    window = np.hanning(FRAME)
    windowed = (frames - frames.mean(axis=1, keepdims=True)) * window
    acf = np.fft.irfft(np.abs(np.fft.rfft(windowed, n=2 * FRAME, axis=1)) ** 2, axis=1)[:, :FRAME]
    acf /= np.maximum(acf[:, :1], 1e-12)
    # Divide by the window's own autocorrelation (Boersma 1993) so long lags are not penalised.
    window_acf = np.fft.irfft(np.abs(np.fft.rfft(window, n=2 * FRAME)) ** 2)[:FRAME]
    acf /= np.maximum(window_acf / window_acf[0], 1e-3)
    low, high = int(SAMPLE_RATE / MAX_PITCH_HZ), int(SAMPLE_RATE / MIN_PITCH_HZ)
    lags = np.argmax(acf[:, low:high], axis=1) + low
    strength = acf[np.arange(len(acf)), lags]
    return np.where(strength > 0.5, SAMPLE_RATE / lags, 0.0)


def voiced_seconds(audio: np.ndarray) -> float:
    """Seconds of periodic sound with a moving pitch, within 30 dB of the loudest frame.

    Speech has plenty; silence, noise and clicks have no periodic frames, and a mains hum or a beep
    is periodic but perfectly steady (its pitch spread is near zero), so it counts for nothing.
    Cheap: about 1 ms per second of audio.
    """
    frames = frames_of(audio)
    level = 20 * np.log10(np.sqrt(np.mean(frames**2, axis=1) + 1e-12))
    loud = (level > level.max() - 30.0) & (level > -65.0)
    pitch = pitch_track(frames)
    voiced = loud & (pitch > 0)
    if voiced.sum() < 2:
        return 0.0
    semitones = 12 * np.log2(pitch[voiced] / np.median(pitch[voiced]))
    if np.median(np.abs(semitones - np.median(semitones))) < STEADY_TONE_SEMITONES:
        return 0.0
    return float(voiced.sum() * HOP / SAMPLE_RATE)


def has_speech(audio: np.ndarray) -> bool:
    return voiced_seconds(audio) >= MIN_VOICED_SECONDS
