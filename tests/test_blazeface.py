"""BlazeFace detection and face-mesh geometry on real images (scikit-image's, matplotlib's Grace Hopper).

The bounds below were measured with these models (numbers in comments) and leave room for other
builds of LiteRT; the mirror, rotation and crop tests compare an image with itself transformed, so
they check the decoding and the geometry rather than any one face.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import cv2
import numpy as np
import pytest
import skimage.data

from mrrrme.backends import StartupError, package_file
from mrrrme.runtime import BadInput
from services.face.blazeface import (
    MODELS,
    BlazeFace,
    BlazeFaceDetector,
    Range,
    decode,
    iou,
    ssd_anchors,
    weighted_nms,
)
from services.face.detect import FaceDetector
from services.face.landmarks import (
    LEFT_EYE_CONTOUR,
    RIGHT_EYE_CONTOUR,
    FaceGeometry,
    FaceLandmarker,
    duchenne_cue,
    frontality,
    geometry_from_landmarks,
)

SAMPLES: Any = skimage.data  # scikit-image's sample images (its functions are untyped)


@pytest.fixture(scope="module")
def short() -> BlazeFaceDetector:
    return BlazeFaceDetector("short")


@pytest.fixture(scope="module")
def full() -> BlazeFaceDetector:
    return BlazeFaceDetector("full")


@pytest.fixture(scope="module")
def landmarker() -> FaceLandmarker:
    return FaceLandmarker()


def astronaut() -> np.ndarray:
    rgb: np.ndarray = SAMPLES.astronaut()
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)


def grace_hopper() -> np.ndarray:
    """A second real face, closed-mouthed and not smiling (matplotlib's sample photo, 512x600)."""
    try:
        path = package_file("matplotlib", "mpl-data/sample_data/grace_hopper.jpg", "pip install matplotlib")
    except StartupError:
        pytest.skip("matplotlib's sample data is not installed")
    image = cv2.imread(str(path))
    assert image is not None
    return image


@cache
def lfw_crops() -> np.ndarray:
    crops: np.ndarray = SAMPLES.lfw_subset()
    return crops


def lfw(index: int, pad: int = 0) -> np.ndarray:
    """One of lfw_subset's 25x25 crops (0-99 faces, 100-199 non-faces), upscaled 4x like tests/test_face.py,
    optionally with a replicated border so the face fills less of the frame."""
    grey: np.ndarray = cv2.resize((lfw_crops()[index] * 255).astype(np.uint8), (100, 100))
    if pad:
        grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)


def rotate(image: np.ndarray, degrees: float) -> np.ndarray:
    """Counter-clockwise on the screen, about the centre, same size."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    return cv2.warpAffine(image, matrix, (width, height))


def box_iou(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> float:
    as_corners = np.array([a[0], a[1], a[0] + a[2], a[1] + a[3]], float)
    bs_corners = np.array([[b[0], b[1], b[0] + b[2], b[1] + b[3]]], float)
    return float(iou(as_corners, bs_corners)[0])


def one_face(detector: BlazeFaceDetector, image: np.ndarray) -> BlazeFace:
    faces = detector.find(image)
    assert len(faces) == 1, f"{len(faces)} faces"
    return faces[0]


def geometry_of(detector: BlazeFaceDetector, landmarker: FaceLandmarker, image: np.ndarray) -> FaceGeometry:
    geometry = landmarker.geometry(image, one_face(detector, image))
    assert geometry is not None
    return geometry


# --- decoding, against MediaPipe's anchor layout -------------------------------------------------


@pytest.mark.parametrize(("model", "count"), [("short", 896), ("full", 2304)])
def test_anchors_follow_mediapipe_layout(model: Range, count: int) -> None:
    spec = MODELS[model]
    anchors = ssd_anchors(spec.side, spec.strides, spec.anchors_per_layer)
    assert anchors.shape == (count, 2)
    assert anchors.min() > 0 and anchors.max() < 1
    first_cells = spec.side // spec.strides[0]
    # The first grid cell's centre, repeated once per anchor of that grid, then the next cell along x.
    assert np.allclose(anchors[0], [0.5 / first_cells, 0.5 / first_cells])
    assert np.allclose(anchors[spec.anchors_per_layer], [1.5 / first_cells, 0.5 / first_cells])
    if model == "short":  # the 8x8 grid of the three stride-16 layers: 6 anchors per cell, after 16*16*2
        assert np.allclose(anchors[512:518], [0.5 / 8, 0.5 / 8]) and np.allclose(anchors[518], [1.5 / 8, 0.5 / 8])


def test_decode_places_boxes_and_keypoints_relative_to_anchors() -> None:
    anchors = np.array([[0.25, 0.5], [0.75, 0.75]], np.float32)
    raw = np.zeros((2, 16), np.float32)
    raw[0, :4] = [12.8, -12.8, 25.6, 51.2]  # centre offset (+0.1, -0.1), size 0.2 x 0.4 of a 128 input
    raw[1, 4:6] = [-6.4, 0.0]  # first keypoint 0.05 left of its anchor
    boxes, points = decode(raw, anchors, 128)
    assert np.allclose(boxes[0], [0.25, 0.2, 0.45, 0.6])
    assert np.allclose(points[1, 0], [0.7, 0.75]) and np.allclose(points[1, 1:], [0.75, 0.75])


def test_weighted_nms_averages_overlapping_boxes_and_keeps_separate_faces() -> None:
    boxes = np.array([[0.0, 0.0, 1.0, 1.0], [0.2, 0.0, 1.2, 1.0], [3.0, 3.0, 4.0, 4.0]])
    points = np.zeros((3, 6, 2))
    points[1] += 1.0
    scores = np.array([0.9, 0.3, 0.6])
    merged = weighted_nms(boxes, points, scores)
    assert len(merged) == 2
    box, kps, score = merged[0]
    assert score == pytest.approx(0.9)  # the cluster keeps its best score
    assert box[0] == pytest.approx(0.2 * 0.3 / 1.2)  # and the score-weighted mean box
    assert kps[0, 0] == pytest.approx(0.3 / 1.2)
    assert np.allclose(merged[1][0], boxes[2]) and merged[1][2] == pytest.approx(0.6)


# --- detection on real images ----------------------------------------------------------------------


@pytest.mark.parametrize("model", ["short", "full"])
def test_astronaut_is_one_face_where_haar_puts_it(model: Range) -> None:
    detector = BlazeFaceDetector(model)
    image = astronaut()
    face = one_face(detector, image)
    haar = FaceDetector().detect(image).largest
    assert haar is not None
    assert box_iou(face.box, haar.box) > 0.5  # measured 0.73 (short), 0.76 (full)
    assert face.score > 0.8  # measured 0.92-0.94
    (rx, ry), (lx, ly) = face.keypoint("right_eye"), face.keypoint("left_eye")
    x, y, w, h = face.box
    assert x < rx < lx < x + w and y < ry < y + h / 2 and y < ly < y + h / 2  # her right eye is on the image's left
    nose_y, mouth_y = face.keypoint("nose_tip")[1], face.keypoint("mouth")[1]
    assert ry < nose_y < mouth_y < y + h
    detection = detector.detect(image)  # the drop-in shape of FaceDetector.detect
    assert [f.box for f in detection.faces] == [face.box] and detection.gray.shape == image.shape[:2]


@pytest.mark.parametrize("model", ["short", "full"])
def test_coins_have_no_face(model: Range) -> None:
    assert BlazeFaceDetector(model).detect(cv2.cvtColor(SAMPLES.coins(), cv2.COLOR_GRAY2BGR)).faces == []


def test_lfw_faces_found_and_non_faces_refused(short: BlazeFaceDetector, full: BlazeFaceDetector) -> None:
    found_short = [bool(short.find(lfw(i))) for i in range(200)]
    assert sum(found_short[:100]) >= 90  # measured 99 of 100
    assert sum(found_short[100:]) <= 3  # measured 1 of 100
    # Full range is made for faces small in the frame: a tight crop is too close for it, so the same
    # crops get a border that makes the face half the frame's side.
    found_full = [bool(full.find(lfw(i, pad=50))) for i in range(200)]
    assert sum(found_full[:100]) >= 85  # measured 94
    assert sum(found_full[100:]) <= 3  # measured 0


def test_full_range_finds_a_face_too_small_for_short_range(short: BlazeFaceDetector, full: BlazeFaceDetector) -> None:
    small = cv2.resize(astronaut(), None, fx=0.4, fy=0.4, interpolation=cv2.INTER_AREA)  # face ~38 px
    canvas = np.full((480, 640, 3), 120, np.uint8)
    canvas[200 : 200 + small.shape[0], 300 : 300 + small.shape[1]] = small
    assert short.find(canvas) == []
    face = one_face(full, canvas)
    expected = one_face(full, astronaut()).box
    scaled = (
        round(300 + expected[0] * 0.4),
        round(200 + expected[1] * 0.4),
        round(expected[2] * 0.4),
        round(expected[3] * 0.4),
    )
    assert box_iou(face.box, scaled) > 0.5


@pytest.mark.parametrize("model", ["short", "full"])
def test_two_faces_largest_first(model: Range) -> None:
    face = astronaut()[30:330, 120:330]
    canvas = np.full((320, 480, 3), 200, np.uint8)
    canvas[10:310, 10:220] = face
    canvas[100:310, 300:447] = cv2.resize(face, (147, 210))
    faces = BlazeFaceDetector(model).detect(canvas).faces
    assert len(faces) == 2
    assert faces[0].box[0] < 240 < faces[1].box[0] and faces[0].box[2] > faces[1].box[2]


def test_crop_and_scale_keep_the_face_in_frame_coordinates(short: BlazeFaceDetector) -> None:
    image = astronaut()
    x, y, w, h = one_face(short, image).box
    crop = image[20:300, 100:380]  # a non-square crop: letterboxed, then mapped back
    cx, cy, cw, ch = one_face(short, crop).box
    assert box_iou((cx + 100, cy + 20, cw, ch), (x, y, w, h)) > 0.7
    for size in [(320, 240), (200, 360)]:  # aspect ratio changed too: the box must follow
        resized = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        sx, sy = size[0] / image.shape[1], size[1] / image.shape[0]
        expected = (round(x * sx), round(y * sy), round(w * sx), round(h * sy))
        got = one_face(short, resized).box
        assert abs((got[0] + got[2] / 2) - (expected[0] + expected[2] / 2)) < 0.15 * expected[2]
        assert abs((got[1] + got[3] / 2) - (expected[1] + expected[3] / 2)) < 0.15 * expected[3]


def test_boxes_are_clipped_to_the_frame(short: BlazeFaceDetector) -> None:
    image = astronaut()[60:, 200:]  # her face cut at the frame's left edge
    for face in short.find(image):
        x, y, w, h = face.box
        assert x >= 0 and y >= 0 and x + w <= image.shape[1] and y + h <= image.shape[0]


# --- pose ------------------------------------------------------------------------------------------


def test_mirror_mirrors_the_box_and_flips_yaw_and_roll(short: BlazeFaceDetector, landmarker: FaceLandmarker) -> None:
    image = astronaut()
    x, _, w, _ = one_face(short, image).box
    mx, _, mw, _ = one_face(short, image[:, ::-1].copy()).box
    assert abs(mx - (image.shape[1] - x - w)) <= 4 and abs(mw - w) <= 4
    # Yaw and roll: over the LFW faces, the astronaut and Grace Hopper being nearly frontal.
    pairs = []
    for i in range(100):
        face = lfw(i, pad=50)
        try:
            pairs.append((geometry_of(short, landmarker, face), geometry_of(short, landmarker, face[:, ::-1].copy())))
        except AssertionError:  # a face missed in one of the two: not a pose measurement
            continue
    assert len(pairs) >= 85
    turned = [(g.yaw_deg, m.yaw_deg) for g, m in pairs if abs(g.yaw_deg) > 10]
    assert len(turned) >= 8  # measured 13 faces turned by more than 10 degrees
    assert sum(np.sign(a) != np.sign(b) for a, b in turned) >= 0.9 * len(turned)  # measured all
    yaw = np.array([(g.yaw_deg, m.yaw_deg) for g, m in pairs])
    roll = np.array([(g.roll_deg, m.roll_deg) for g, m in pairs])
    assert np.corrcoef(yaw[:, 0], -yaw[:, 1])[0, 1] > 0.85  # measured 0.97
    assert np.corrcoef(roll[:, 0], -roll[:, 1])[0, 1] > 0.8  # measured 0.96
    # The pose quality cue: turned faces score below the frontal astronaut.
    frontal = frontality(geometry_of(short, landmarker, astronaut()))
    assert frontal > 0.8  # measured 0.97
    assert all(frontality(g) < frontal for g, _ in pairs if abs(g.yaw_deg) > 10)


@pytest.mark.parametrize("degrees", [20.0, -20.0])
@pytest.mark.parametrize("photo", ["astronaut", "grace_hopper"])
def test_rotation_changes_roll_by_the_angle_and_keeps_the_face(
    short: BlazeFaceDetector, landmarker: FaceLandmarker, photo: str, degrees: float
) -> None:
    image = astronaut() if photo == "astronaut" else grace_hopper()
    upright = geometry_of(short, landmarker, image)
    turned = geometry_of(short, landmarker, rotate(image, degrees))
    assert turned.roll_deg - upright.roll_deg == pytest.approx(degrees, abs=6)  # measured 18.8-20.2
    # An in-plane rotation does not turn the head: yaw and pitch stay.
    assert abs(turned.yaw_deg - upright.yaw_deg) < 8 and abs(turned.pitch_deg - upright.pitch_deg) < 6


def test_a_high_resolution_frame_reads_like_the_small_one(short: BlazeFaceDetector, landmarker: FaceLandmarker) -> None:
    """The same photo 4x larger: box 4x, and the same geometry (the crops are shrunk by averaging first,
    not sampled: without that the 2048 px frame aliased and read different eyes)."""
    image = astronaut()
    large = cv2.resize(image, (2048, 2048), interpolation=cv2.INTER_CUBIC)
    x, y, w, h = one_face(short, image).box
    assert box_iou(one_face(short, large).box, (4 * x, 4 * y, 4 * w, 4 * h)) > 0.8
    small, big = geometry_of(short, landmarker, image), geometry_of(short, landmarker, large)
    assert big.roll_deg == pytest.approx(small.roll_deg, abs=2) and big.yaw_deg == pytest.approx(small.yaw_deg, abs=3)
    assert big.smile == pytest.approx(small.smile, abs=0.05)
    assert big.eye_aperture == pytest.approx(small.eye_aperture, abs=0.02)


def test_haar_boxes_get_geometry_from_an_axis_aligned_crop(
    landmarker: FaceLandmarker, short: BlazeFaceDetector
) -> None:
    image = astronaut()
    haar = FaceDetector().detect(image).largest
    assert haar is not None
    from_haar = landmarker.geometry(image, haar)
    from_blazeface = geometry_of(short, landmarker, image)
    assert from_haar is not None
    assert abs(from_haar.roll_deg - from_blazeface.roll_deg) < 6 and abs(from_haar.smile - from_blazeface.smile) < 0.2


# --- smile and the Duchenne cue --------------------------------------------------------------------


def test_smile_cue_is_higher_on_the_smiling_astronaut(short: BlazeFaceDetector, landmarker: FaceLandmarker) -> None:
    """Her broad open smile against Grace Hopper's closed, level mouth (both frontal, well lit), and
    against LFW's faces (press photos, many of them smiling: a high bar, not a neutral baseline)."""
    smiling = geometry_of(short, landmarker, astronaut())
    closed_mouth = geometry_of(short, landmarker, grace_hopper())
    assert smiling.smile > closed_mouth.smile + 0.25  # measured 0.64 vs 0.25
    lfw_smiles = []
    for i in range(100):
        image = lfw(i, pad=50)
        faces = short.find(image)
        geometry = landmarker.geometry(image, faces[0]) if faces else None
        if geometry is not None:
            lfw_smiles.append(geometry.smile)
    assert smiling.smile > float(np.percentile(lfw_smiles, 75))  # measured: LFW median 0.08, 75th pct 0.28
    # The cue survives mirroring and an in-plane rotation of the same smile.
    for variant in (astronaut()[:, ::-1].copy(), rotate(astronaut(), 20)):
        assert geometry_of(short, landmarker, variant).smile == pytest.approx(smiling.smile, abs=0.15)


def stretch_eyes(image: np.ndarray, points: np.ndarray, factor: float) -> np.ndarray:
    """The image with a band around each eye resized vertically by `factor` about the eye's centre."""
    out = image.copy()
    for outer, inner, upper, lower in [(33, 133, 159, 145), (263, 362, 386, 374)]:
        cx = round((points[outer, 0] + points[inner, 0]) / 2)
        cy = round((points[upper, 1] + points[lower, 1]) / 2)
        half_w = round(abs(points[outer, 0] - points[inner, 0]) * 0.8)
        band = image[cy - 5 : cy + 5, cx - half_w : cx + half_w]
        height = round(10 * factor)
        out[cy - height // 2 : cy - height // 2 + height, cx - half_w : cx + half_w] = cv2.resize(
            band, (2 * half_w, height)
        )
    return out


def test_eye_aperture_follows_the_eyes_in_the_image(short: BlazeFaceDetector, landmarker: FaceLandmarker) -> None:
    """The same face with its eyes stretched open (the eyelids of the bare mesh barely move for this:
    the iris model's refinement is what reads them)."""
    image = astronaut()
    original = geometry_of(short, landmarker, image)
    opened = geometry_of(short, landmarker, stretch_eyes(image, original.landmarks, 1.8))
    assert opened.eye_aperture > original.eye_aperture + 0.03  # measured 0.354 -> 0.404
    assert opened.smile == pytest.approx(original.smile, abs=0.15)  # the mouth did not change
    bare = FaceLandmarker(refine_eyes=False)
    assert bare.geometry(image, one_face(short, image)) is not None


def test_duchenne_cue_needs_the_smile_and_the_narrowed_eyes(
    short: BlazeFaceDetector, landmarker: FaceLandmarker
) -> None:
    """AU6 narrows the eye from below: on the astronaut's own landmarks, lift each lower lid towards
    the corner line (most of the way); the Duchenne cue must rise from that alone, and vanish without the smile."""
    smiling = geometry_of(short, landmarker, astronaut())
    points = smiling.landmarks.copy()
    for contour in (RIGHT_EYE_CONTOUR, LEFT_EYE_CONTOUR):
        corners = (points[contour[0], :2] + points[contour[8], :2]) / 2
        lower = list(contour[1:8])
        points[lower, 1] = corners[1] + (points[lower, 1] - corners[1]) * 0.25
    narrowed = geometry_from_landmarks(points)
    assert narrowed.eye_aperture < smiling.eye_aperture - 0.05
    assert narrowed.smile == pytest.approx(smiling.smile, abs=0.01)
    assert narrowed.duchenne > smiling.duchenne + 0.15
    assert duchenne_cue(0.0, narrowed.eye_aperture) == 0.0
    # A person's own baseline: the same aperture counts as narrowed for wide-eyed people only.
    assert duchenne_cue(0.8, 0.3, open_aperture=0.4) > duchenne_cue(0.8, 0.3, open_aperture=0.3)
    closed_mouth = geometry_of(short, landmarker, grace_hopper())
    assert closed_mouth.duchenne <= 0.1


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", ["short", "full"])
def test_garbage_frames_give_no_face(model: Range) -> None:
    detector = BlazeFaceDetector(model)
    noise = np.random.default_rng(7).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    frames: list[np.ndarray] = [
        np.zeros((1, 1, 3), np.uint8),
        np.zeros((3, 2, 3), np.uint8),
        np.zeros((480, 640, 3), np.uint8),
        np.full((240, 320, 3), 255, np.uint8),
        noise,
        np.zeros((1, 4000, 3), np.uint8),
        np.zeros((120, 160), np.uint8),  # grey
        np.zeros((120, 160, 4), np.uint8),  # BGRA
    ]
    for frame in frames:
        assert detector.detect(frame).faces == []


def test_malformed_arrays_are_refused_clearly(short: BlazeFaceDetector, landmarker: FaceLandmarker) -> None:
    cases: list[tuple[np.ndarray, str]] = [
        (np.zeros((10, 10, 3), np.float32), "bad_image"),
        (np.zeros((10, 10, 5), np.uint8), "bad_image"),
        (np.zeros((0, 10, 3), np.uint8), "empty_image"),
    ]
    for bad, code in cases:
        with pytest.raises(BadInput) as refused:
            short.detect(bad)
        assert refused.value.code == code
    with pytest.raises(StartupError):
        BlazeFaceDetector("medium")  # type: ignore[arg-type]
    with pytest.raises(StartupError):
        BlazeFaceDetector(min_confidence=1.5)


def test_landmarks_on_a_box_without_a_face_give_no_geometry(landmarker: FaceLandmarker) -> None:
    from services.face.detect import Face

    coins = cv2.cvtColor(SAMPLES.coins(), cv2.COLOR_GRAY2BGR)
    assert landmarker.geometry(coins, Face((100, 100, 100, 100), 1.0, 1.0)) is None
    assert landmarker.geometry(np.zeros((240, 320, 3), np.uint8), Face((100, 60, 80, 80), 1.0, 1.0)) is None
    # A box hanging off the frame is padded, not an error.
    assert landmarker.geometry(np.zeros((240, 320, 3), np.uint8), Face((280, 200, 80, 80), 1.0, 1.0)) is None
