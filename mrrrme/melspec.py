"""Whisper's log-mel spectrogram in numpy: the input of Whisper's encoder and of models built on it
(Smart Turn v3, gateway/turn.py).

Exactly Whisper's recipe (openai-whisper `log_mel_spectrogram`, faster-whisper's `FeatureExtractor`):
a 400-sample (25 ms) periodic Hann window every 160 samples (10 ms) with the signal reflect-padded by
200 samples at both ends (a centred STFT), the power spectrum, an 80-band Slaney mel filterbank from 0 Hz
to 8 kHz (Slaney's mel scale: linear below 1 kHz, logarithmic above; each triangle normalised to unit
area), log10 floored at 1e-10, the last frame dropped (so N samples give N // 160 frames), everything
more than 8 (80 dB) below the loudest bin raised to that floor, then scaled by (x + 4) / 4 to about
[-1, 1]. Computed in float64; tests/test_turn.py compares it with faster-whisper's implementation.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

SAMPLE_RATE = 16000
N_FFT = 400
HOP = 160
N_MELS = 80
LOG_FLOOR = 1e-10
DYNAMIC_RANGE = 8.0
"""In log10 units: 80 dB."""


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney's mel scale (librosa's default, `htk=False`): 3 mels per 200 Hz up to 1 kHz, then logarithmic."""
    hz = np.asarray(hz, dtype=np.float64)
    linear = 3.0 * hz / 200.0
    log_region = 15.0 + np.log(np.maximum(hz, 1e-12) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(hz >= 1000.0, log_region, linear)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = 200.0 * mel / 3.0
    log_region = 1000.0 * np.exp((np.log(6.4) / 27.0) * (mel - 15.0))
    return np.where(mel >= 15.0, log_region, linear)


@lru_cache(maxsize=4)
def mel_filters(n_mels: int = N_MELS, n_fft: int = N_FFT, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """(n_mels, n_fft // 2 + 1) triangular filters, Slaney-normalised, from 0 Hz to the Nyquist frequency."""
    bins = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(np.array(0.0)), _hz_to_mel(np.array(sample_rate / 2)), n_mels + 2))
    lower, centre, upper = edges[:-2, None], edges[1:-1, None], edges[2:, None]
    rising = (bins[None, :] - lower) / (centre - lower)
    falling = (upper - bins[None, :]) / (upper - centre)
    triangles: np.ndarray = np.maximum(0.0, np.minimum(rising, falling))
    # Unit area per filter (Slaney): wide high-frequency bands do not outweigh narrow low ones.
    triangles *= 2.0 / (upper - lower)
    triangles.setflags(write=False)  # cached and shared
    return triangles


def power_spectrogram(audio: np.ndarray) -> np.ndarray:
    """(n_fft // 2 + 1, len // HOP + 1) power of a centred STFT with a periodic Hann window."""
    if len(audio) <= N_FFT // 2:
        raise ValueError(f"need more than {N_FFT // 2} samples for a reflect-padded STFT, got {len(audio)}")
    padded = np.pad(np.asarray(audio, dtype=np.float64), N_FFT // 2, mode="reflect")
    window = np.hanning(N_FFT + 1)[:-1]  # periodic Hann, as torch.hann_window(400)
    frames = sliding_window_view(padded, N_FFT)[::HOP]
    spectrum = np.fft.rfft(frames * window, axis=-1)
    power: np.ndarray = (spectrum.real**2 + spectrum.imag**2).T
    return power


def log_mel(audio: np.ndarray, n_mels: int = N_MELS) -> np.ndarray:
    """Whisper's log-mel features of 16 kHz mono audio: float32 (n_mels, len(audio) // 160)."""
    if audio.ndim != 1:
        raise ValueError(f"expected mono audio (one dimension), got shape {audio.shape}")
    power = power_spectrogram(audio)[:, :-1]  # Whisper drops the last frame
    mel = mel_filters(n_mels) @ power
    log_spec = np.log10(np.maximum(mel, LOG_FLOOR))
    log_spec = np.maximum(log_spec, log_spec.max() - DYNAMIC_RANGE)
    features: np.ndarray = ((log_spec + 4.0) / 4.0).astype(np.float32)
    return features
