"""Fusion fitted on data: the weights file `MRRRME_FUSION_WEIGHTS_FILE` names, and the logistic late-fusion model.

`python -m mrrrme.eval fit-fusion` (mrrrme/eval/fusion_fit.py) writes the file; the fusion service loads
and checks it at start-up (a bad file stops it with one line, `StartupError`). Two kinds:

- `fixed`: the rules of `rules.py` with fitted numbers: the three base weights and the three quality
  factors replace the seed's 0.4 / 0.3 / 0.3, x0.7, x0.5, x0.7.
- `logistic`: a multinomial logistic regression on each modality's log-probabilities, with the same
  quality conditions as the rules (low face quality, no speech, short text) as features, so a fitted model
  can learn both how far to trust a modality and which of its confusions to undo (a face model that reads
  sad faces as neutral). Conflict and masking are still the rules' (they read the modalities, not the fusion).

The file (JSON, `schema` and `version` checked; `fitted` is provenance, read by people only):

    {"schema": "mrrrme.fusion-weights", "version": 1, "kind": "fixed" | "logistic",
     "classes": ["Neutral", "Happy", "Sad", "Angry"],
     "fixed": {"face": .., "voice": .., "text": .., "low_quality_face_factor": ..,
               "no_speech_voice_factor": .., "short_text_factor": ..},
     "logistic": {"features": [FEATURES...], "weights": [[...] x 4], "bias": [4 numbers]},
     "fitted": {...}}

The section `kind` names is required; the other may be there too (the fit writes both).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mrrrme.backends import StartupError
from mrrrme.contracts import EMOTIONS
from services.fusion.rules import LOW_FACE_QUALITY, SHORT_TEXT_CHARS, FusionWeights, Inputs

SCHEMA = "mrrrme.fusion-weights"
VERSION = 1
KINDS = ("fixed", "logistic")
MODALITIES = ("face", "voice", "text")
CONDITIONS = {"face": "low_quality", "voice": "no_speech", "text": "short"}
"""The rules' quality condition of each modality, a feature of the logistic model."""
LOG_FLOOR = 1e-4
"""Probabilities are clipped here before the log: a model's 0.0 must not be an infinite feature."""


def _feature_names() -> tuple[str, ...]:
    names: list[str] = []
    for m in MODALITIES:
        cond = CONDITIONS[m]
        names += [f"{m}.log_{c.lower()}" for c in EMOTIONS]
        names += [f"{m}.{cond}.log_{c.lower()}" for c in EMOTIONS]
        names += [f"{m}.present", f"{m}.{cond}"]
    return tuple(names)


FEATURES = _feature_names()
BLOCK = 2 * len(EMOTIONS) + 2
"""Features per modality, in MODALITIES order."""


def conditions(inputs: Inputs) -> dict[str, bool]:
    """The rules' quality conditions, exactly as `rules.weights_for` applies them."""
    return {
        "face": inputs.face is not None and inputs.face_quality < LOW_FACE_QUALITY,
        "voice": not inputs.speech,
        "text": inputs.text is not None and inputs.text_chars < SHORT_TEXT_CHARS,
    }


def features(inputs: Inputs) -> np.ndarray:
    """The logistic model's feature vector of one utterance (zeros for a modality with no reading)."""
    out = np.zeros(len(FEATURES))
    cond = conditions(inputs)
    for i, m in enumerate(MODALITIES):
        reading = getattr(inputs, m)
        if reading is None:
            continue
        logp = np.log(np.clip(np.asarray(reading.probabilities, dtype=float), LOG_FLOOR, 1.0))
        c = 1.0 if cond[m] else 0.0
        out[i * BLOCK : (i + 1) * BLOCK] = np.concatenate([logp, c * logp, [1.0, c]])
    return out


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return np.asarray(e / e.sum(axis=-1, keepdims=True))


@dataclass(frozen=True)
class LogisticFusion:
    """p = softmax(W x + b) over EMOTIONS, x = `features(inputs)`."""

    weights: np.ndarray  # (4, len(FEATURES))
    bias: np.ndarray  # (4,)

    def combine(self, inputs: Inputs) -> tuple[list[float], dict[str, float]]:
        """Fused probabilities, and each modality's share of how far it moved the logits (for the event's
        per-modality weight: a learned model has no weights of the rules' kind, but the client shows one)."""
        x = features(inputs)
        probabilities = softmax(self.weights @ x + self.bias)
        moved: dict[str, float] = {}
        for i, m in enumerate(MODALITIES):
            if getattr(inputs, m) is None:
                moved[m] = 0.0
                continue
            z = self.weights[:, i * BLOCK : (i + 1) * BLOCK] @ x[i * BLOCK : (i + 1) * BLOCK]
            moved[m] = float(np.abs(z - z.mean()).sum())
        total = sum(moved.values())
        present = [m for m in MODALITIES if getattr(inputs, m) is not None]
        shares = {
            m: (moved[m] / total if total > 0 else (1.0 / len(present) if m in present else 0.0)) for m in MODALITIES
        }
        return [float(p) for p in probabilities], shares


Fitted = FusionWeights | LogisticFusion


def document(
    model: Fitted, fixed: FusionWeights | None = None, fitted: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The weights file's JSON for `model` (and, beside a logistic model, the fitted fixed weights too)."""
    doc: dict[str, Any] = {
        "schema": SCHEMA,
        "version": VERSION,
        "kind": "fixed" if isinstance(model, FusionWeights) else "logistic",
        "classes": list(EMOTIONS),
    }
    fixed = model if isinstance(model, FusionWeights) else fixed
    if fixed is not None:
        doc["fixed"] = dataclasses.asdict(fixed)
    if isinstance(model, LogisticFusion):
        doc["logistic"] = {
            "features": list(FEATURES),
            "weights": [[float(w) for w in row] for row in model.weights],
            "bias": [float(b) for b in model.bias],
        }
    doc["fitted"] = dict(fitted or {})
    return doc


def load(path: Path) -> Fitted:
    """Read and check a weights file; any problem is one `StartupError` line naming the file."""
    try:
        doc = json.loads(path.read_text())
        return parse(doc)
    except OSError as exc:
        raise StartupError(f"MRRRME_FUSION_WEIGHTS_FILE {path}: cannot read it ({exc.strerror or exc})") from None
    except json.JSONDecodeError as exc:
        raise StartupError(f"MRRRME_FUSION_WEIGHTS_FILE {path}: not JSON ({exc})") from None
    except ValueError as exc:
        raise StartupError(
            f"MRRRME_FUSION_WEIGHTS_FILE {path}: {exc}; write it with python -m mrrrme.eval fit-fusion"
        ) from None


def parse(doc: Any) -> Fitted:
    """The model a weights document describes; ValueError saying what is wrong."""
    if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
        raise ValueError(f"not a fusion weights file (schema is not {SCHEMA!r})")
    if doc.get("version") != VERSION:
        raise ValueError(f"version {doc.get('version')!r}, this mesh reads version {VERSION}")
    kind = doc.get("kind")
    if kind not in KINDS:
        raise ValueError(f"kind {kind!r} is none of {KINDS}")
    if doc.get("classes") != list(EMOTIONS):
        raise ValueError(f"classes must be {list(EMOTIONS)}")
    section = doc.get(kind)
    if not isinstance(section, dict):
        raise ValueError(f"kind {kind!r} but no {kind!r} section")
    if kind == "fixed":
        names = [f.name for f in dataclasses.fields(FusionWeights)]
        if sorted(section) != sorted(names):
            raise ValueError(f"the fixed section needs exactly {names}")
        values = {name: _number(section[name], f"fixed.{name}") for name in names}
        if any(v < 0 for v in values.values()):
            raise ValueError("fixed weights and factors must not be negative")
        if values["face"] + values["voice"] + values["text"] <= 0:
            raise ValueError("the fixed base weights sum to 0")
        return FusionWeights(**values)
    if section.get("features") != list(FEATURES):
        raise ValueError("the logistic model's features are not this mesh's (fitted by another version?)")
    weights = np.asarray([[_number(w, "logistic.weights") for w in row] for row in _rows(section.get("weights"))])
    bias = np.asarray([_number(b, "logistic.bias") for b in _list(section.get("bias"), "logistic.bias")])
    if weights.shape != (len(EMOTIONS), len(FEATURES)) or bias.shape != (len(EMOTIONS),):
        raise ValueError(f"logistic weights must be {len(EMOTIONS)} x {len(FEATURES)} and bias {len(EMOTIONS)}")
    return LogisticFusion(weights, bias)


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ValueError(f"{where} must be a finite number, got {value!r}")
    return float(value)


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ValueError(f"{where} must be a list")
    return value


def _rows(value: Any) -> list[list[Any]]:
    return [_list(row, "logistic.weights row") for row in _list(value, "logistic.weights")]
