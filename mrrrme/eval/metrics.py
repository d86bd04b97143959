"""The figures of one modality's predictions: accuracy, UAR, macro-F1, confusion, calibration, coverage, latency.

Pure numpy on `Prediction`s (no model, no files), so every number can be checked by hand (tests/test_eval_metrics.py).

Conventions, the usual ones (they match scikit-learn's, which is not a dependency):
- Four-class scores count the items with a reading (`probabilities` not None) and a four-class truth;
  an item whose truth has no four-class meaning (`truth4` None) counts for the 7-class scores only, and
  an item with no reading counts against coverage, never as a wrong answer.
- The predicted class is the top probability; a tie goes to the first class in `EMOTIONS` order.
- Recall of a class is undefined (None) when no item truly has it; UAR is the mean recall of the classes
  that occur in the truth. Precision is None when a class is never predicted. F1 = 2TP / (2TP + FP + FN),
  None for a class that neither occurs nor is predicted; macro-F1 is the mean F1 of the others.
- Expected calibration error (Guo et al. 2017): 15 equal-width bins of top-class confidence, bin i holding
  (i/15, (i+1)/15] (0 falls in the first), ECE = sum over bins of (items in bin / items) * |accuracy - confidence|.
- 7-class scores compare the model's own label (`scores7`, top score) with the dataset's label, both
  canonicalised (`canonical`: joy -> happy, fearful -> fear, ...). A dataset label the model does not have
  (RAVDESS "calm") stays in the table as a row the model can never get right: that is the truth about it.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from mrrrme.contracts import EMOTIONS
from mrrrme.emotions import LABEL_TO_FOUR
from mrrrme.eval.types import MODALITIES, Prediction

ECE_BINS = 15
SEVEN: tuple[str, ...] = ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise")
"""The canonical order of the 7 source labels (Ekman's six and neutral), the order of the 7-class tables."""
SYNONYMS: dict[str, str] = {
    "neu": "neutral", "hap": "happy", "joy": "happy", "happiness": "happy", "sadness": "sad",
    "ang": "angry", "anger": "angry", "fearful": "fear", "disgusted": "disgust", "surprised": "surprise",
}  # fmt: skip
"""Spellings of the same label across models and datasets (FER, j-hartmann, IEMOCAP, RAVDESS, MELD)."""
_EDGE = 1e-9
"""0.4 * 15 is 6.000000000000001 in floating point: a confidence on a bin edge belongs to the lower bin."""


def canonical(label: str) -> str:
    key = label.strip().lower()
    return SYNONYMS.get(key, key)


@dataclass(frozen=True)
class ClassScores:
    labels: tuple[str, ...]
    n: int
    accuracy: float
    uar: float
    """Unweighted average recall: the mean of the per-class recalls (chance is 1 / classes present)."""
    macro_f1: float
    recall: tuple[float | None, ...]
    precision: tuple[float | None, ...]
    f1: tuple[float | None, ...]
    support: tuple[int, ...]
    confusion: tuple[tuple[int, ...], ...]
    """Rows: the truth, columns: the prediction, in `labels` order."""


@dataclass(frozen=True)
class ReliabilityBin:
    lower: float
    upper: float
    count: int
    confidence: float | None
    """Mean top-class confidence of the items in the bin (None for an empty bin)."""
    accuracy: float | None


@dataclass(frozen=True)
class Calibration:
    n: int
    ece: float
    bins: tuple[ReliabilityBin, ...]


@dataclass(frozen=True)
class Latency:
    n: int
    mean_s: float
    p50_s: float
    p95_s: float


@dataclass(frozen=True)
class MappingEffect:
    """What folding 7 labels into four does, on the items that have both a 7-class score and a four-class truth."""

    n: int
    accuracy7: float
    """The model's own top label against the dataset's label."""
    accuracy7_folded: float
    """The same top label, folded to four classes, against the four-class truth: the 7-class mistakes that
    stay inside one four-class group (fear for sad, disgust for angry) stop counting."""
    accuracy4: float
    """The four-class top of the summed probabilities (what the mesh reports) against the four-class truth."""
    uar7: float
    uar7_folded: float
    uar4: float


@dataclass(frozen=True)
class ModalityMetrics:
    name: str
    items: int
    read: int
    """Items with a reading (probabilities not None)."""
    coverage: float
    four: ClassScores | None
    log_loss: float | None
    """Mean -ln p(true class) over the four-class items, probabilities clipped at 1e-12."""
    calibration: Calibration | None
    seven: ClassScores | None
    mapping: MappingEffect | None
    latency: Latency | None


def class_scores(truth: Sequence[int], predicted: Sequence[int], labels: Sequence[str]) -> ClassScores | None:
    """Scores of predicted class indices against true ones over `labels`; None for no items."""
    if not truth:
        return None
    k = len(labels)
    confusion = np.zeros((k, k), dtype=np.int64)
    np.add.at(confusion, (np.asarray(truth), np.asarray(predicted)), 1)
    tp = np.diag(confusion)
    support = confusion.sum(axis=1)
    predicted_count = confusion.sum(axis=0)
    recall = [float(tp[i] / support[i]) if support[i] else None for i in range(k)]
    precision = [float(tp[i] / predicted_count[i]) if predicted_count[i] else None for i in range(k)]
    # 2TP / (2TP + FP + FN), with FP + TP = predicted count and FN + TP = support.
    f1 = [
        float(2 * tp[i] / (support[i] + predicted_count[i])) if support[i] + predicted_count[i] else None
        for i in range(k)
    ]
    return ClassScores(
        labels=tuple(labels),
        n=len(truth),
        accuracy=float(tp.sum() / len(truth)),
        uar=_mean(recall),
        macro_f1=_mean(f1),
        recall=tuple(recall),
        precision=tuple(precision),
        f1=tuple(f1),
        support=tuple(int(s) for s in support),
        confusion=tuple(tuple(int(c) for c in row) for row in confusion),
    )


def calibration(confidence: Sequence[float], correct: Sequence[bool], bins: int = ECE_BINS) -> Calibration | None:
    """Expected calibration error and the reliability diagram's bins; None for no items."""
    if not confidence:
        return None
    conf = np.asarray(confidence, dtype=float)
    hit = np.asarray(correct, dtype=float)
    index = np.clip(np.ceil(conf * bins - _EDGE).astype(int) - 1, 0, bins - 1)
    out: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(bins):
        member = index == b
        count = int(member.sum())
        mean_conf = float(conf[member].mean()) if count else None
        accuracy = float(hit[member].mean()) if count else None
        if mean_conf is not None and accuracy is not None:
            ece += count / len(conf) * abs(accuracy - mean_conf)
        out.append(ReliabilityBin(b / bins, (b + 1) / bins, count, mean_conf, accuracy))
    return Calibration(n=len(conf), ece=float(ece), bins=tuple(out))


def latency(seconds: Sequence[float]) -> Latency | None:
    if not seconds:
        return None
    s = np.asarray(seconds, dtype=float)
    return Latency(len(s), float(s.mean()), float(np.percentile(s, 50)), float(np.percentile(s, 95)))


def evaluate(predictions: Sequence[Prediction], name: str | None = None) -> ModalityMetrics:
    """Every figure of one group of predictions (one modality, or one fusion method)."""
    if name is None:
        name = "+".join(sorted({p.modality for p in predictions})) or "empty"
    read = [p for p in predictions if p.probabilities is not None]
    scored = [p for p in read if p.truth4 is not None]
    truth4 = [_index4(p.truth4) for p in scored]
    probs = np.asarray([p.probabilities for p in scored], dtype=float).reshape(len(scored), len(EMOTIONS))
    predicted4 = [int(i) for i in np.argmax(probs, axis=1)] if scored else []
    truth_p = probs[np.arange(len(scored)), truth4] if scored else np.zeros(0)
    return ModalityMetrics(
        name=name,
        items=len(predictions),
        read=len(read),
        coverage=len(read) / len(predictions) if predictions else 0.0,
        four=class_scores(truth4, predicted4, EMOTIONS),
        log_loss=float(-np.log(np.clip(truth_p, 1e-12, 1.0)).mean()) if scored else None,
        calibration=calibration(
            [float(c) for c in probs.max(axis=1)] if scored else [],
            [t == p for t, p in zip(truth4, predicted4, strict=True)],
        ),
        seven=_seven(predictions),
        mapping=_mapping(predictions),
        latency=latency([p.seconds for p in predictions]),
    )


def evaluate_by_modality(predictions: Iterable[Prediction]) -> dict[str, ModalityMetrics]:
    """One `ModalityMetrics` per modality present, in face, voice, text, fused order."""
    groups: dict[str, list[Prediction]] = {}
    for p in predictions:
        groups.setdefault(p.modality, []).append(p)
    return {m: evaluate(groups[m], m) for m in MODALITIES if m in groups}


def top_label(scores7: dict[str, float]) -> str:
    """The model's own top label, canonicalised (two spellings of one label add up)."""
    totals: dict[str, float] = {}
    for label, score in scores7.items():
        totals[canonical(label)] = totals.get(canonical(label), 0.0) + float(score)
    ordered = sorted(totals, key=_seven_order)  # ties: the canonical order, deterministically
    return max(ordered, key=totals.__getitem__)


def _seven(predictions: Sequence[Prediction]) -> ClassScores | None:
    with7 = [p for p in predictions if p.scores7]
    if not with7:
        return None
    model_labels = {canonical(label) for p in with7 for label in p.scores7 or {}}
    truth_labels = {canonical(p.truth) for p in with7}
    labels = sorted(model_labels, key=_seven_order) + sorted(truth_labels - model_labels)
    where = {label: i for i, label in enumerate(labels)}
    return class_scores(
        [where[canonical(p.truth)] for p in with7], [where[top_label(p.scores7 or {})] for p in with7], labels
    )


def _mapping(predictions: Sequence[Prediction]) -> MappingEffect | None:
    both = [p for p in predictions if p.scores7 and p.truth4 is not None and p.probabilities is not None]
    if not both:
        return None
    labels7 = sorted({canonical(p.truth) for p in both} | {top_label(p.scores7 or {}) for p in both}, key=_seven_order)
    where7 = {label: i for i, label in enumerate(labels7)}
    truth4 = [_index4(p.truth4) for p in both]
    top7 = [top_label(p.scores7 or {}) for p in both]
    # A 7-class label without a four-class meaning can never be right once folded: -1 matches no truth.
    folded = [_index4(LABEL_TO_FOUR[t]) if t in LABEL_TO_FOUR else -1 for t in top7]
    four = [int(np.argmax(p.probabilities or ())) for p in both]
    s7 = class_scores([where7[canonical(p.truth)] for p in both], [where7[t] for t in top7], labels7)
    s7f = _scores_with_unknown(truth4, folded)
    s4 = class_scores(truth4, four, EMOTIONS)
    assert s7 is not None and s4 is not None
    return MappingEffect(
        n=len(both),
        accuracy7=s7.accuracy,
        accuracy7_folded=s7f[0],
        accuracy4=s4.accuracy,
        uar7=s7.uar,
        uar7_folded=s7f[1],
        uar4=s4.uar,
    )


def _scores_with_unknown(truth: list[int], predicted: list[int]) -> tuple[float, float]:
    """Accuracy and UAR where a prediction of -1 is wrong for every class."""
    t, p = np.asarray(truth), np.asarray(predicted)
    recalls = [float((p[t == c] == c).mean()) for c in sorted(set(truth))]
    return float((t == p).mean()), float(np.mean(recalls))


def _index4(label: str | None) -> int:
    if label not in EMOTIONS:
        raise ValueError(f"truth4 must be one of {EMOTIONS}, got {label!r}")
    return EMOTIONS.index(label)


def _seven_order(label: str) -> tuple[int, str]:
    return (SEVEN.index(label) if label in SEVEN else len(SEVEN), label)


def _mean(values: Sequence[float | None]) -> float:
    defined = [v for v in values if v is not None]
    return float(np.mean(defined)) if defined else math.nan
