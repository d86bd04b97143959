"""The face worker: micro-batches of frames from every session -> one model call -> face emotion events."""

from __future__ import annotations

import numpy as np

from mrrrme import emotions, subjects
from mrrrme.contracts import FaceEmotion, Frame, now
from mrrrme.runtime import BadInput, BatchPolicy, Delivery, Service
from mrrrme.runtime.model_worker import run_main, serve_model
from services.face.backends import load_backend
from services.face.backends.base import FaceBackend
from services.face.detect import Detection, Face, FaceDetector, decode_jpeg, quality
from services.face.settings import FaceSettings


class FaceAnalyser:
    """Decode, detect and classify a batch of frames; runs on the model thread."""

    def __init__(self, settings: FaceSettings, backend: FaceBackend) -> None:
        self.settings = settings
        self.backend = backend
        self.detector = FaceDetector(
            settings.min_face_px, settings.min_confidence, settings.min_neighbors, settings.detect_side
        )

    def analyse(self, frames: list[Frame]) -> list[FaceEmotion | BadInput]:
        detections: list[Detection | BadInput] = []
        for frame in frames:
            try:
                detections.append(self.detector.detect(decode_jpeg(frame.jpeg, self.settings.min_image_px)))
            except BadInput as refused:
                detections.append(refused)
        with_face = [d for d in detections if isinstance(d, Detection) and d.largest is not None]
        scores = iter(self.backend.classify([(d.image, d.largest) for d in with_face]))  # type: ignore[misc]
        results: list[FaceEmotion | BadInput] = []
        for frame, detection in zip(frames, detections, strict=True):
            if isinstance(detection, BadInput):
                results.append(detection)
                continue
            face = detection.largest
            if face is None:
                results.append(FaceEmotion(session_id=frame.session_id, frame_seq=frame.seq, reading=None))
                continue
            results.append(
                FaceEmotion(
                    session_id=frame.session_id,
                    frame_seq=frame.seq,
                    reading=emotions.reading(next(scores)),
                    quality=quality(detection.gray, face),
                    box=face.box,
                    faces=len(detection.faces),
                )
            )
        return results

    def warm_up(self) -> None:
        self.backend.classify([(np.full((96, 96, 3), 128, np.uint8), Face(box=(8, 8, 80, 80), confidence=1.0))])


def build(settings: FaceSettings) -> Service:
    service = Service("face", settings, backend=settings.backend_name)

    def fresh(delivery: Delivery[Frame]) -> bool:
        """A frame that waited too long describes a face that is gone: drop it (counted), do not analyse it."""
        if delivery.message.ts >= now() - settings.max_frame_age_ms / 1000:
            return True
        service.metrics.messages.labels("frame", "stale").inc()
        return False

    serve_model(
        service,
        subject=subjects.ALL_FRAMES,
        schema=Frame,
        queue=subjects.FACE_QUEUE,
        policy=BatchPolicy(settings.max_batch, settings.max_wait_ms, max(settings.max_queue, settings.max_batch)),
        load=lambda: FaceAnalyser(settings, load_backend(settings)),
        warm_up=FaceAnalyser.warm_up,
        analyse=FaceAnalyser.analyse,
        reply_to=subjects.face_emotion,
        admit=fresh,
    )
    return service


def main() -> None:
    run_main(FaceSettings, build)
