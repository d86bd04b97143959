"""Face detectors: ms per frame and detections on scikit-image's lfw_subset, as a Markdown table.

    .venv/bin/python -m bench.face_detect [--rounds 5] [--frames 20] [--threads 1]

Detectors: OpenCV Haar with the face service's default settings (services/face/settings.py), and
BlazeFace short and full range (services/face/blazeface.py), what the face service reads (BlazeFace
short then full range, each detection confirmed by the face mesh: services/face/service.py), plus the
landmark step (face mesh + both eyes) per face. Frames: the astronaut scaled to the frame's height on a
replicated border, 640x480 and 320x240 (what clients send). Each timing is the best of `--rounds` rounds
of `--frames` calls, so a busy machine inflates less. LFW: 100 faces and 100 non-faces, 25x25 crops
upscaled 4x to 100x100 as in tests/test_face.py ("tight"), and the same with a 50 px replicated border
("padded", face half the frame).
"""

from __future__ import annotations

import argparse
import platform
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import cv2
import numpy as np
import skimage.data

from services.face.blazeface import BlazeFaceDetector, ShortThenFullDetector
from services.face.detect import Detection, FaceDetector
from services.face.landmarks import FaceLandmarker
from services.face.service import confirmed
from services.face.settings import FaceSettings

SAMPLES: Any = skimage.data  # scikit-image's sample images (its functions are untyped)


def frame(width: int, height: int) -> np.ndarray:
    """The astronaut (BGR) scaled to `height`, centred, on a replicated border: one face of a webcam's size."""
    rgb: np.ndarray = SAMPLES.astronaut()
    face = cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR), (height, height))
    side = (width - height) // 2
    return cv2.copyMakeBorder(face, 0, 0, side, width - height - side, cv2.BORDER_REPLICATE)


def lfw(pad: int) -> list[np.ndarray]:
    images = []
    for crop in SAMPLES.lfw_subset():
        grey = cv2.resize((crop * 255).astype(np.uint8), (100, 100))
        if pad:
            grey = cv2.copyMakeBorder(grey, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        images.append(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    return images


def checked(detector: ShortThenFullDetector, landmarker: FaceLandmarker, image: np.ndarray) -> Detection:
    """What the face service reads and counts (services/face/service.py `confirmed`); the timing includes
    the face mesh, which the service runs anyway for pose and the smile cues."""
    return confirmed(detector.detect(image), landmarker)[0]


def ms_per_call(run: Callable[[], object], frames: int, rounds: int) -> float:
    run()  # warm-up
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(frames):
            run()
        best = min(best, (time.perf_counter() - started) / frames)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for OpenCV and LiteRT")
    args = parser.parse_args()
    cv2.setNumThreads(args.threads)
    settings = FaceSettings()
    detectors: dict[str, Callable[[np.ndarray], Detection]] = {
        f"Haar (minNeighbors {settings.min_neighbors}, weight >= {settings.min_confidence}, "
        f"min face {settings.min_face_px} px)": FaceDetector(
            settings.min_face_px, settings.min_confidence, settings.min_neighbors, settings.detect_side
        ).detect,
        "BlazeFace short range (score >= 0.5)": BlazeFaceDetector("short", num_threads=args.threads).detect,
        "BlazeFace full range (score >= 0.5)": BlazeFaceDetector("full", num_threads=args.threads).detect,
        "the service: BlazeFace auto range + the face mesh's check (landmarks on)": partial(
            checked, ShortThenFullDetector(), FaceLandmarker(num_threads=args.threads)
        ),
    }
    frames = {size: frame(*size) for size in [(640, 480), (320, 240)]}
    sets = {"tight": lfw(0), "padded": lfw(50)}
    print(
        f"{platform.processor() or platform.machine()}, {args.threads} thread(s), best of {args.rounds} x {args.frames}"
    )
    print()
    print(
        "| detector | ms/frame 640x480 | ms/frame 320x240 | faces in those frames | LFW tight: faces / 100 "
        "| false / 100 | LFW padded: faces / 100 | false / 100 |"
    )
    print("|---|---|---|---|---|---|---|---|")
    for name, detect in detectors.items():
        times = [ms_per_call(partial(detect, image), args.frames, args.rounds) for image in frames.values()]
        seen = "/".join(str(len(detect(image).faces)) for image in frames.values())
        counts = []
        for images in sets.values():
            found = [bool(detect(image).faces) for image in images]
            counts += [sum(found[:100]), sum(found[100:])]
        print(
            f"| {name} | {times[0]:.1f} | {times[1]:.1f} | {seen} | " + " | ".join(str(c) for c in counts) + " |",
            flush=True,
        )
    landmarker = FaceLandmarker(num_threads=args.threads)
    short = BlazeFaceDetector("short", num_threads=args.threads)
    image = frames[(640, 480)]
    face = short.find(image)[0]
    mesh = ms_per_call(lambda: landmarker.geometry(image, face), args.frames, args.rounds)
    bare = FaceLandmarker(num_threads=args.threads, refine_eyes=False)
    mesh_only = ms_per_call(lambda: bare.geometry(image, face), args.frames, args.rounds)
    print()
    print(
        f"Landmarks + pose + smile cues per face: {mesh:.1f} ms (face mesh and both eyes), "
        f"{mesh_only:.1f} ms (mesh only)"
    )


if __name__ == "__main__":
    main()
