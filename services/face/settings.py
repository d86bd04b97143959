from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme.settings import BatchSettings


class FaceSettings(BatchSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_FACE_", extra="ignore", populate_by_name=True)

    cpu_priority: Literal["normal", "background"] = Field(
        "background",
        description="Frames are perishable: on a shared machine the face takes only CPU time the turn (speech, "
        "words, reply) does not want, and drops the frames it cannot reach in time",
    )
    model: str = Field("trpakov/vit-face-expression", description="Full backend: Hugging Face id or local path")
    max_batch: int = Field(8, description="Most frames in one model call")
    max_wait_ms: float = Field(10.0, description="How long a frame waits for a batch to fill")
    max_queue: int = Field(64, description="Frames waiting beyond this are dropped, oldest first")
    max_frame_age_ms: float = Field(500.0, description="Frames older than this when their turn comes are dropped")
    detector: Literal["blazeface", "haar"] = Field(
        "blazeface",
        description="Face detector: blazeface (MediaPipe's BlazeFace on LiteRT, 2-4 ms a frame) or haar (OpenCV, "
        "~100 ms for 640x480 on this machine's CPU)",
    )
    blazeface_range: Literal["auto", "short", "full"] = Field(
        "auto",
        description="BlazeFace model: short (faces from ~10 % of the frame's long side), full (small, far faces; "
        "misses faces that fill the frame), or auto (short, then full when short found no face)",
    )
    blazeface_min_confidence: float = Field(0.5, description="BlazeFace score a detection needs to count as a face")
    landmarks: bool = Field(
        True,
        description="468 face landmarks for the largest face (~4 ms, once more for each detection they reject): "
        "head pose for the quality score, the smile cues (smile, Duchenne) that fusion's masking rule cites, and "
        "a check that a detection is a face (off: a detector's false faces are read too)",
    )
    min_face_px: int = Field(40, description="Haar: smallest face side the detector looks for")
    min_neighbors: int = Field(7, description="Haar: overlapping detections a face needs (higher: fewer false faces)")
    min_confidence: float = Field(
        3.0,
        description="Haar level weight a detection needs to count as a face (coin textures score up to 2.3)",
    )
    detect_side: int = Field(
        640,
        description="Haar: larger frames are searched on a copy scaled to this long side (its cost grows with pixels)",
    )
    min_image_px: int = Field(48, description="Images with a smaller side are refused")
