"""The face worker: micro-batches of frames from every session -> one model call -> face emotion events."""

from __future__ import annotations

import dataclasses

import numpy as np

from mrrrme import emotions, subjects
from mrrrme.contracts import FaceEmotion, Frame, now
from mrrrme.runtime import Consumes, Context, ModelService, Ready
from services.face.backends import BACKENDS
from services.face.backends.base import FaceBackend
from services.face.blazeface import BlazeFaceDetector, ShortThenFullDetector
from services.face.detect import Detection, Face, FaceDetector, decode_jpeg, quality
from services.face.landmarks import FaceGeometry, FaceLandmarker, frontality
from services.face.settings import FaceSettings

FaceInput = tuple[Detection, Face, FaceGeometry | None]
"""A decoded frame, the face the model reads (the largest it confirms) and its landmark geometry when measured."""
CHECKED_FACES = 3
"""Detections, largest first, that the face mesh checks per frame for one it confirms as a face."""


def confirmed(detection: Detection, landmarker: FaceLandmarker) -> tuple[Detection, FaceGeometry | None]:
    """The detection without the faces the face mesh rejects, and the geometry of its largest confirmed face.

    The mesh also says whether its crop holds a face: a detector's false faces (BlazeFace's colour wheel
    and cat: presence 0.001 and 0.02, against 0.73 and above for every LFW face) are neither read nor
    counted. Detections are checked largest first, up to CHECKED_FACES, until one is confirmed; the
    smaller ones after it are counted unchecked (the mesh runs once for a frame with a face)."""
    rejected: list[int] = []
    for index, face in enumerate(detection.faces[:CHECKED_FACES]):
        geometry = landmarker.geometry(detection.image, face)
        if geometry is not None:
            faces = [f for i, f in enumerate(detection.faces) if i not in rejected]
            return dataclasses.replace(detection, faces=faces), geometry
        rejected.append(index)
    return dataclasses.replace(detection, faces=[]), None


class FaceService(ModelService[FaceSettings, Frame, FaceInput, dict[str, float]]):
    name = "face"
    backends = BACKENDS
    backend: FaceBackend
    detector: FaceDetector | BlazeFaceDetector | ShortThenFullDetector
    landmarker: FaceLandmarker | None
    consumes = Consumes(subjects.ALL_FRAMES, Frame, subjects.FACE_QUEUE, subjects.face_emotion)

    def load(self) -> None:
        s = self.settings
        super().load()
        blazeface_range = s.blazeface_range
        if s.detector == "haar":
            self.detector = FaceDetector(s.min_face_px, s.min_confidence, s.min_neighbors, s.detect_side)
        elif blazeface_range == "auto":
            self.detector = ShortThenFullDetector(s.blazeface_min_confidence)
        else:
            self.detector = BlazeFaceDetector(blazeface_range, s.blazeface_min_confidence)
        self.landmarker = FaceLandmarker() if s.landmarks else None

    def warm_up(self) -> None:
        grey = np.full((96, 96, 3), 128, np.uint8)
        face = Face(box=(8, 8, 80, 80), confidence=1.0, certainty=1.0)
        self.backend.classify([(grey, face)])
        if self.landmarker is not None:
            self.landmarker.geometry(grey, face)

    def admit(self, frame: Frame, ctx: Context) -> bool:
        """A frame that waited too long describes a face that is gone: counted as stale, not analysed."""
        if frame.ts >= now() - self.settings.max_frame_age_ms / 1000:
            return True
        ctx.skip("stale")
        return False

    def prepare(self, frame: Frame) -> FaceInput | Ready:
        detection = self.detector.detect(decode_jpeg(frame.jpeg, self.settings.min_image_px))
        no_face = Ready(FaceEmotion(session_id=frame.session_id, frame_seq=frame.seq, reading=None))
        if self.landmarker is None:
            return no_face if detection.largest is None else (detection, detection.largest, None)
        detection, geometry = confirmed(detection, self.landmarker)
        if detection.largest is None or geometry is None:
            return no_face
        return detection, detection.largest, geometry

    def infer(self, inputs: list[FaceInput]) -> list[dict[str, float]]:
        return self.backend.classify([(detection.image, face) for detection, face, _ in inputs])

    def respond(self, frame: Frame, prepared: FaceInput, output: dict[str, float]) -> FaceEmotion:
        detection, face, geometry = prepared
        return FaceEmotion(
            session_id=frame.session_id,
            frame_seq=frame.seq,
            reading=emotions.reading(output),
            quality=quality(detection.gray, face, frontality(geometry) if geometry else None),
            box=face.box,
            faces=len(detection.faces),
            pose=(round(geometry.yaw_deg, 1), round(geometry.pitch_deg, 1)) if geometry else None,
            smile=geometry.smile if geometry else None,
            duchenne=geometry.duchenne if geometry else None,
        )
