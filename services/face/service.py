"""The face worker: micro-batches of frames from every session -> one model call -> face emotion events."""

from __future__ import annotations

import asyncio

import numpy as np

from mrrrme import emotions, subjects
from mrrrme.contracts import FaceEmotion, Frame, now
from mrrrme.logs import configure_logging
from mrrrme.runtime import BadInput, BatchPolicy, Delivery, Service, reply_each
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
    analyser: list[FaceAnalyser] = []

    @service.on_startup
    async def load() -> None:
        backend = await service.run_blocking(load_backend, settings)
        analyser.append(FaceAnalyser(settings, backend))
        await service.run_blocking(analyser[0].warm_up)

    policy = BatchPolicy(settings.max_batch, settings.max_wait_ms, max(settings.max_queue, settings.max_batch))

    @service.consume_batches(subjects.ALL_FRAMES, schema=Frame, queue=subjects.FACE_QUEUE, policy=policy)
    async def on_frames(batch: list[Delivery[Frame]]) -> None:
        # A frame that waited too long describes a face that is gone: drop it, do not queue it.
        oldest = now() - settings.max_frame_age_ms / 1000
        fresh = [d for d in batch if d.message.ts >= oldest]
        for _ in range(len(batch) - len(fresh)):
            service.metrics.messages.labels("frame", "stale").inc()
        results = await service.run_blocking(analyser[0].analyse, [d.message for d in fresh])
        await reply_each(fresh, results, subjects.face_emotion)

    return service


def main() -> None:
    settings = FaceSettings()
    configure_logging(settings.log_level)
    asyncio.run(build(settings).run())
