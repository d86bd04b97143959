"""Decode a frame, find the largest face with OpenCV Haar, and score how usable it is (0..1).

Both profiles detect with Haar (DESIGN.md section 4): it is fast on a CPU (~10 ms for 640x480) and its
cascade ships inside opencv-python (< 5: 5.0 dropped the cascades).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mrrrme.runtime import BadInput

CASCADE = "haarcascade_frontalface_default.xml"

# How much each cue counts in the quality score; the weights sum to 1.
QUALITY_WEIGHTS = {"size": 0.30, "confidence": 0.20, "sharpness": 0.20, "brightness": 0.15, "position": 0.15}


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]
    """x, y, width, height in frame pixels."""
    confidence: float
    """Haar's level weight: ~1 for a weak detection, 5+ for a clear frontal face."""


@dataclass(frozen=True)
class Detection:
    image: np.ndarray
    """The decoded frame, BGR."""
    gray: np.ndarray
    faces: list[Face]
    """Every face found, largest first."""

    @property
    def largest(self) -> Face | None:
        return self.faces[0] if self.faces else None


def decode_jpeg(jpeg: bytes, min_side: int) -> np.ndarray:
    """BGR pixels of a JPEG, or BadInput saying what is wrong (grayscale JPEGs come out as BGR too)."""
    if not jpeg:
        raise BadInput("empty_image", "the frame is empty")
    image = cv2.imdecode(np.frombuffer(jpeg, dtype=np.uint8), cv2.IMREAD_COLOR)
    if image is None or image.size == 0:
        raise BadInput("corrupt_jpeg", "the frame could not be decoded as a JPEG image")
    height, width = image.shape[:2]
    if min(height, width) < min_side:
        raise BadInput("image_too_small", f"the frame is {width}x{height}; at least {min_side}px per side is needed")
    return image


class FaceDetector:
    def __init__(
        self,
        min_face_px: int = 40,
        min_confidence: float = 3.0,
        min_neighbors: int = 7,
        detect_side: int = 640,
    ) -> None:
        path = cv2.data.haarcascades + CASCADE  # type: ignore[attr-defined]
        self._cascade = cv2.CascadeClassifier(path)
        if self._cascade.empty():
            raise RuntimeError(f"Haar cascade missing at {path}: install opencv-python-headless<5")
        self.min_face_px = min_face_px
        self.min_confidence = min_confidence
        self.min_neighbors = min_neighbors
        self.detect_side = detect_side

    def detect(self, image: np.ndarray) -> Detection:
        gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        # Haar's cost grows with the pixel count: search a copy whose long side is `detect_side`
        # and scale the boxes back. Clients send 320x240 to 640x480, which is searched as it is: a
        # smaller copy loses small faces and, measured on skimage.data.coins(), finds false ones.
        scale = min(1.0, self.detect_side / max(gray.shape[:2]))
        small = gray if scale == 1.0 else cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        min_side = max(20, round(self.min_face_px * scale))
        rects, _levels, weights = self._cascade.detectMultiScale3(
            small,
            scaleFactor=1.1,
            minNeighbors=self.min_neighbors,
            minSize=(min_side, min_side),
            outputRejectLevels=True,
        )
        faces = [
            Face(box=(round(x / scale), round(y / scale), round(w / scale), round(h / scale)), confidence=float(weight))
            for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False)
            if weight >= self.min_confidence
        ]
        faces.sort(key=lambda face: face.box[2] * face.box[3], reverse=True)
        return Detection(image=image, gray=gray, faces=faces)


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def quality_cues(gray: np.ndarray, face: Face) -> dict[str, float]:
    """Each cue in 0..1 (1 = ideal), documented in docs/architecture.md."""
    frame_h, frame_w = gray.shape[:2]
    x, y, w, h = face.box
    crop = gray[max(0, y) : y + h, max(0, x) : x + w]
    # Size: a face filling 35 % of the frame's short side or more is ideal; 8 % or less is useless.
    size = _clip01((min(w, h) / min(frame_w, frame_h) - 0.08) / (0.35 - 0.08))
    # Detector confidence: Haar level weights run from ~0 (marginal) to 5+ (clear frontal face).
    confidence = _clip01(face.confidence / 5.0)
    # Sharpness: variance of the Laplacian at a fixed scale; ~300 and above is a crisp face.
    normalised = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)
    sharpness = _clip01(float(cv2.Laplacian(normalised, cv2.CV_64F).var()) / 300.0)
    # Brightness: mid-grey is ideal, black or blown-out is useless.
    brightness = _clip01(1.0 - abs(float(crop.mean()) - 128.0) / 128.0)
    # Position: a centred face is ideal; one touching the frame's corner counts as 0.
    cx, cy = (x + w / 2) / frame_w - 0.5, (y + h / 2) / frame_h - 0.5
    position = _clip01(1.0 - float(np.hypot(cx, cy)) / float(np.hypot(0.5, 0.5)))
    return {
        "size": size,
        "confidence": confidence,
        "sharpness": sharpness,
        "brightness": brightness,
        "position": position,
    }


def quality(gray: np.ndarray, face: Face) -> float:
    cues = quality_cues(gray, face)
    return round(sum(QUALITY_WEIGHTS[name] * value for name, value in cues.items()), 4)
