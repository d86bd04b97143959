"""Turning a dataset's media into what the services take: JPEG frames and 16 kHz mono PCM16.

Everything is decoded in memory; nothing is written to disk (privacy: the harness reads people's
faces and voices). Audio and video files other than plain 16 kHz mono WAV go through PyAV (`pip
install -e .[eval]`), which resamples to the services' 16 kHz mono.

Face crops (FER2013's 48x48 images, RAF-DB's and AffectNet's aligned crops) are framed before the face
service sees them: a detector tuned on webcam frames misses a face that fills its whole input (BlazeFace
short range looks for faces from ~10 % of the frame, bench/face_detect.py's "tight" vs "padded" rows),
so a crop gets a replicated border of half its side and is scaled to at least `CROP_SIDE` pixels. The
face then fills half the frame, as a person close to a webcam does.
"""

from __future__ import annotations

import io
import wave
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import require

SAMPLE_RATE = 16000
CROP_SIDE = 192
"""The side a framed face crop is scaled to (FER2013's 48 px would be refused under the face service's 48 px
minimum once framed, and detectors need more pixels than that)."""
VIDEO_FRAMES = (0.35, 0.5, 0.65)
"""Where in a clip the face frames are taken (fractions of its length): the middle, where the speaker
is talking, plus one either side so one blink or turned head does not decide the reading."""


def to_jpeg(image: Path | bytes | np.ndarray, face_crop: bool = False, quality: int = 92) -> bytes:
    """JPEG bytes the face service reads (a face crop framed first, see the module docstring)."""
    import cv2

    pixels: np.ndarray
    if isinstance(image, np.ndarray):
        pixels = image
    else:
        data = image.read_bytes() if isinstance(image, Path) else image
        decoded = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_COLOR)
        if decoded is None:
            raise ValueError(f"{image if isinstance(image, Path) else 'image bytes'}: not a readable image")
        pixels = decoded
    if pixels.ndim == 2:
        pixels = cv2.cvtColor(pixels, cv2.COLOR_GRAY2BGR)
    if face_crop:
        pad = max(pixels.shape[:2]) // 2
        pixels = cv2.copyMakeBorder(pixels, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        side = min(pixels.shape[:2])
        if side < CROP_SIDE:
            scale = CROP_SIDE / side
            pixels = cv2.resize(pixels, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    ok, buffer = cv2.imencode(".jpg", pixels, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("the image could not be encoded as JPEG")
    return bytes(buffer.tobytes())


def _wav_16k(path: Path) -> np.ndarray | None:
    """A plain PCM16 16 kHz WAV read directly (most speech corpora), else None (PyAV decodes it)."""
    try:
        with wave.open(str(path), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getframerate() != SAMPLE_RATE:
                return None
            samples = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2")
            channels = wav.getnchannels()
    except (wave.Error, EOFError):
        return None
    if channels > 1:
        samples = samples.reshape(-1, channels).mean(axis=1).astype(np.int16)
    return samples


def _resampler() -> Any:
    av = require("av", "eval")
    return av.AudioResampler(format="s16", layout="mono", rate=SAMPLE_RATE)


def to_pcm16(audio: Path | bytes) -> np.ndarray:
    """16 kHz mono int16 samples: `bytes` are such samples already; a file is decoded (WAV directly, any
    other format or rate through PyAV)."""
    if isinstance(audio, bytes):
        return np.frombuffer(audio, dtype="<i2")
    if audio.suffix.lower() == ".wav":
        direct = _wav_16k(audio)
        if direct is not None:
            return direct
    clip = decode_clip(audio, frames=())
    if clip.pcm is None:
        raise ValueError(f"{audio}: no audio track")
    return clip.pcm


@dataclass(frozen=True)
class Clip:
    """What a video gives the services: a few JPEG frames and its sound (None without an audio track)."""

    frames: list[bytes]
    pcm: np.ndarray | None
    seconds: float


def decode_clip(path: Path, frames: tuple[float, ...] = VIDEO_FRAMES) -> Clip:
    """One pass over the file: the video frames nearest `frames` (fractions of its length) as JPEG, and
    all of the audio as 16 kHz mono PCM16."""
    av = require("av", "eval")
    jpegs: list[bytes] = []
    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        video = container.streams.video[0] if container.streams.video and frames else None
        audio = container.streams.audio[0] if container.streams.audio else None
        duration = float(container.duration) / 1_000_000 if container.duration else 0.0
        if video is not None and video.duration and video.time_base:
            duration = float(video.duration * video.time_base)
        wanted = sorted(fraction * duration for fraction in frames) if video is not None else []
        resampler = _resampler() if audio is not None else None
        streams = [s for s in (video, audio) if s is not None]
        last_frame = None
        for packet in container.demux(*streams):
            for decoded in packet.decode():
                if packet.stream is video:
                    last_frame = decoded
                    at = float(decoded.time) if decoded.time is not None else 0.0
                    while wanted and at >= wanted[0]:
                        wanted.pop(0)
                        jpegs.append(to_jpeg(decoded.to_ndarray(format="bgr24")))
                elif resampler is not None:
                    for out in resampler.resample(decoded):
                        chunks.append(out.to_ndarray().reshape(-1))
        if resampler is not None:
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        if wanted and last_frame is not None and len(jpegs) < len(frames):
            jpegs.append(to_jpeg(last_frame.to_ndarray(format="bgr24")))  # a clip shorter than its header says
    pcm = np.concatenate(chunks).astype(np.int16) if chunks else None
    return Clip(frames=jpegs, pcm=pcm, seconds=duration)


def wav_bytes(samples: np.ndarray) -> bytes:
    """A WAV file's bytes (16 kHz mono PCM16), in memory: for fixtures and manifests built in tests."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(samples.astype("<i2").tobytes())
    return buffer.getvalue()
