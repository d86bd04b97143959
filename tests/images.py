"""Real images for the face tests (scikit-image ships them: no download)."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
import skimage.data

SAMPLES: Any = skimage.data  # scikit-image's sample images (its functions are untyped)


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB or grey uint8 image."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


def astronaut() -> bytes:
    """Eileen Collins, smiling: one face, Happy."""
    return jpeg(SAMPLES.astronaut())


def coins() -> bytes:
    """Greek coins: no face."""
    return jpeg(SAMPLES.coins())


def y4m(image: np.ndarray, frames: int = 10, fps: int = 5) -> bytes:
    """A YUV4MPEG2 video (4:2:0) of a still RGB image: Chromium's fake camera plays such a file."""
    height, width = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    yuv = cv2.cvtColor(np.ascontiguousarray(image[:height, :width]), cv2.COLOR_RGB2YUV_I420)
    header = f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode()
    return header + (b"FRAME\n" + yuv.tobytes()) * frames
