"""Decode a frame, find faces (OpenCV Haar here; BlazeFace in `blazeface.py`), score how usable one is (0..1).

BlazeFace is the default detector (`MRRRME_FACE_DETECTOR`): 2-4 ms per 640x480 frame against ~100 ms
for Haar here, and it finds tilted and small faces (bench/face_detect.py). Haar stays an option: its
cascade ships inside opencv-python (< 5: 5.0 dropped the cascades).
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from mrrrme.jpeg import DEFAULT_MAX_PIXELS, JpegError, TooManyPixels, check_pixels, read_header
from mrrrme.runtime import BadInput

CASCADE = "haarcascade_frontalface_default.xml"

# How much each cue counts in the quality score.
QUALITY_WEIGHTS = {
    "size": 0.30, "confidence": 0.20, "sharpness": 0.20, "brightness": 0.15, "position": 0.15, "pose": 0.20,
}  # fmt: skip
"""Without landmarks (Haar only) the first five count, summing to 1; with them pose joins, renormalised."""


@dataclass(frozen=True)
class Face:
    box: tuple[int, int, int, int]
    """x, y, width, height in frame pixels."""
    confidence: float
    """The detector's own score: Haar's level weight (~1 weak, 5+ a clear frontal face), BlazeFace's
    probability (0..1)."""
    certainty: float
    """The same on one scale for every detector, 0..1: the quality score's confidence cue."""
    eyes: tuple[tuple[float, float], tuple[float, float]] | None = None
    """The person's right and left eye centres (x, y in frame pixels) where the detector finds them
    (BlazeFace; Haar does not): the landmark crop is levelled by the line between them."""


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


def decode_jpeg(jpeg: bytes, min_side: int, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """BGR pixels of a JPEG, or BadInput saying what is wrong (grayscale JPEGs come out as BGR too)."""
    if not jpeg:
        raise BadInput("empty_image", "the frame is empty")
    # The header's claimed size is checked before decoding: imdecode allocates whatever it claims.
    try:
        check_pixels(read_header(jpeg, require_end=False), max_pixels)
    except TooManyPixels as exc:
        raise BadInput("image_too_large", exc.reason) from None
    except JpegError as exc:
        raise BadInput("corrupt_jpeg", f"the frame is not a valid JPEG: {exc.reason}") from None
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
            Face(
                box=(round(x / scale), round(y / scale), round(w / scale), round(h / scale)),
                confidence=float(weight),
                certainty=haar_certainty(float(weight)),
            )
            for (x, y, w, h), weight in zip(rects, np.ravel(weights), strict=False)
            if weight >= self.min_confidence
        ]
        faces.sort(key=lambda face: face.box[2] * face.box[3], reverse=True)
        return Detection(image=image, gray=gray, faces=faces)


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def haar_certainty(level_weight: float) -> float:
    """Haar level weights run from ~0 (marginal) to 5+ (clear frontal face)."""
    return _clip01(level_weight / 5.0)


def quality_cues(gray: np.ndarray, face: Face, frontal: float | None = None) -> dict[str, float]:
    """Each cue in 0..1 (1 = ideal), documented in docs/architecture.md."""
    frame_h, frame_w = gray.shape[:2]
    x, y, w, h = face.box
    crop = gray[max(0, y) : y + h, max(0, x) : x + w]
    # Size: a face filling 35 % of the frame's short side or more is ideal; 8 % or less is useless.
    size = _clip01((min(w, h) / min(frame_w, frame_h) - 0.08) / (0.35 - 0.08))
    confidence = face.certainty
    # Sharpness: variance of the Laplacian at a fixed scale; ~300 and above is a crisp face.
    normalised = cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA)
    sharpness = _clip01(float(cv2.Laplacian(normalised, cv2.CV_64F).var()) / 300.0)
    # Brightness: mid-grey is ideal, black or blown-out is useless.
    brightness = _clip01(1.0 - abs(float(crop.mean()) - 128.0) / 128.0)
    # Position: a centred face is ideal; one touching the frame's corner counts as 0.
    cx, cy = (x + w / 2) / frame_w - 0.5, (y + h / 2) / frame_h - 0.5
    position = _clip01(1.0 - float(np.hypot(cx, cy)) / float(np.hypot(0.5, 0.5)))
    cues = {"size": size, "confidence": confidence, "sharpness": sharpness, "brightness": brightness}
    cues["position"] = position
    if frontal is not None:  # head pose from the landmarks: 1 looking at the camera, 0 turned 40 degrees away
        cues["pose"] = frontal
    return cues


def quality(gray: np.ndarray, face: Face, frontal: float | None = None) -> float:
    """Weighted mean of the cues there are (pose only with landmarks), the weights renormalised."""
    cues = quality_cues(gray, face, frontal)
    total = sum(QUALITY_WEIGHTS[name] for name in cues)
    return round(sum(QUALITY_WEIGHTS[name] * value for name, value in cues.items()) / total, 4)
