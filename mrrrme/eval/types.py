"""The records the evaluation harness passes between its parts.

A dataset adapter (`mrrrme.eval.datasets`) yields `Item`s; a runner (`mrrrme.eval.runners`) turns each
into one `Prediction` per modality it can read; the metrics and the report (`mrrrme.eval.metrics`,
`mrrrme.eval.report`) consume predictions only, so any of them can be tested without a model.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Modality = Literal["face", "voice", "text", "fused"]
MODALITIES: tuple[Modality, ...] = ("face", "voice", "text", "fused")


@dataclass(frozen=True)
class Item:
    """One labelled example as a dataset lays it out: what each modality reads, and its truth.

    `label` is the dataset's own label, lower case (e.g. "happy", "fear", "neu"); `label4` is its
    four-class name through `mrrrme.emotions.LABEL_TO_FOUR` (Neutral/Happy/Sad/Angry), or None when the
    label has no four-class meaning (e.g. RAVDESS "calm" is mapped, "contempt" is not: such items count
    for the 7-class scores only). Media are referenced, never copied: `image` is a path or an in-memory
    JPEG/PNG, `audio` a path or 16 kHz mono int16 PCM, `video` a path (MELD clips, decoded with PyAV).
    """

    id: str
    label: str
    label4: str | None
    split: str = ""  # "train" / "dev" / "test" where the dataset says; "" when it does not
    text: str | None = None
    image: Path | bytes | None = None
    audio: Path | bytes | None = None
    video: Path | None = None
    meta: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Prediction:
    """What one modality's backend said about one item.

    `probabilities` are over `mrrrme.contracts.EMOTIONS` (four classes, summing to 1), or None when the
    modality had nothing to read (no face found, no speech): such an item counts against coverage, not
    accuracy. `scores7` keeps the model's own label scores where it has them (FER's seven classes).
    `quality` is the modality's quality figure the fusion uses (face quality, speech present, text length).
    """

    item_id: str
    modality: Modality
    truth4: str | None
    truth: str
    probabilities: tuple[float, ...] | None
    scores7: dict[str, float] | None = None
    quality: float | None = None
    seconds: float = 0.0
