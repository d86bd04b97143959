"""Real images for the face tests (scikit-image ships them: no download)."""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data


def jpeg(image: np.ndarray, quality: int = 90) -> bytes:
    """JPEG bytes of an RGB or grey uint8 image."""
    if image.ndim == 3:
        image = cv2.cvtColor(image, cv2.COLOR_RGB2BGR)
    ok, buffer = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buffer.tobytes())


def astronaut() -> bytes:
    """Eileen Collins, smiling: one face, Happy."""
    return jpeg(skimage.data.astronaut())


def coins() -> bytes:
    """Greek coins: no face."""
    return jpeg(skimage.data.coins())
