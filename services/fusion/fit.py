"""Learned fusion: fit the fusion on a multimodal set's training split, choose on validation, report on test.

It lives beside the rules it fits (mrrrme/ never imports a service; `mrrrme.eval.fusion_fit` finds this
module through the registry). `python -m mrrrme.eval fit-fusion PREDICTIONS` (`fit_fusion_command`) reads
the per-item face, voice and text predictions of a multimodal dataset (predictions.jsonl of a report folder,
`mrrrme.eval.report`) and fits two candidates on the training split:

(a) the rules' own numbers (`FusionWeights`: three base weights, three quality factors) by coordinate
    search on the training log-loss: each number in turn moves by +-step while that lowers the loss, the step
    halves when nothing does (no scipy). Log-loss, not UAR, because it is smooth: UAR is flat between the few
    items that change class, so it cannot say which of many weightings is best.
(b) a multinomial logistic late-fusion model (`services.fusion.learned.LogisticFusion`: each modality's
    log-probabilities and the rules' quality conditions as features), by Nesterov gradient descent with an L2
    penalty whose strength is chosen on the validation log-loss.

The candidate that wins on the validation split (UAR by default, `--select log-loss`) is written as the
weights file the fusion service loads (`MRRRME_FUSION_WEIGHTS_FILE`); the test split, which neither the fit
nor the choice saw, compares both with the seed's fixed 0.4 / 0.3 / 0.3 in a report folder. Every fused
figure goes through `services.fusion.rules.fuse`, the service's own code. Where items carry `conflict` /
`masking` labels in their meta, the rules' flags are scored against them.

How a `Prediction.quality` becomes the rules' input: face -> face quality (None: not penalised), voice ->
speech present when >= 0.5 (None: speech), text -> its length in characters (None: long enough).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from mrrrme.contracts import EMOTIONS, EmotionReading, reading_from_probabilities
from mrrrme.eval.metrics import ModalityMetrics, evaluate
from mrrrme.eval.report import read_predictions, write_report
from mrrrme.eval.types import Prediction
from services.fusion import learned, rules

Split = Literal["train", "validation", "test"]
SPLIT_NAMES: dict[str, Split] = {
    "train": "train", "training": "train", "dev": "validation", "val": "validation", "valid": "validation",
    "validation": "validation", "test": "test",
}  # fmt: skip
L2_GRID = (1e-4, 1e-3, 1e-2, 1e-1)
FLOOR = 1e-12
SEED_LABEL = "fused: seed 0.4/0.3/0.3"
FIXED_LABEL = "fused: fitted weights"
LOGISTIC_LABEL = "fused: logistic"


@dataclass(frozen=True)
class Example:
    """One item of a multimodal set: its truth and the rules' inputs from its three predictions."""

    item_id: str
    truth: str
    truth4: str
    inputs: rules.Inputs
    seconds: float
    """The modalities' times added up, as `mrrrme.eval.runners` times its fused predictions."""
    meta: dict[str, str] = field(default_factory=dict)


def reading_of(prediction: Prediction | None) -> EmotionReading | None:
    if prediction is None or prediction.probabilities is None:
        return None
    return reading_from_probabilities(list(prediction.probabilities))


def inputs_of(face: Prediction | None, voice: Prediction | None, text: Prediction | None) -> rules.Inputs:
    """The fusion rules' inputs from one item's modality predictions (see the module docstring for quality)."""
    return rules.Inputs(
        face=reading_of(face),
        face_quality=face.quality if face is not None and face.quality is not None else 1.0,
        voice=reading_of(voice),
        speech=voice is None or voice.quality is None or voice.quality >= 0.5,
        text=reading_of(text),
        text_chars=int(text.quality) if text is not None and text.quality is not None else rules.SHORT_TEXT_CHARS,
    )


def examples(predictions: Sequence[Prediction], meta: Mapping[str, Mapping[str, str]] | None = None) -> list[Example]:
    """Items with a four-class truth, each with whatever face / voice / text predictions it has."""
    by_item: dict[str, dict[str, Prediction]] = {}
    for p in predictions:
        if p.modality != "fused":  # a runner's own fused figures are recomputed, not fitted on
            by_item.setdefault(p.item_id, {})[p.modality] = p
    out = []
    for item_id, modalities in by_item.items():
        first = next(iter(modalities.values()))
        if first.truth4 is None:
            continue
        out.append(
            Example(
                item_id=item_id,
                truth=first.truth,
                truth4=first.truth4,
                inputs=inputs_of(modalities.get("face"), modalities.get("voice"), modalities.get("text")),
                seconds=sum(p.seconds for p in modalities.values()),
                meta=dict((meta or {}).get(item_id, {})),
            )
        )
    return out


def assign_splits(
    ids: Sequence[str], given: Mapping[str, str], fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> dict[str, Split]:
    """The dataset's own split where it has one; otherwise a stable split by a hash of the item id.

    A dataset with train and test but no validation split (or no test split) has it carved out of train.
    """
    named = {i: SPLIT_NAMES.get(given.get(i, "").strip().lower()) for i in ids}
    has = {s for s in named.values() if s is not None}
    f_train, f_val, f_test = (f / sum(fractions) for f in fractions)
    out: dict[str, Split] = {}
    for i in ids:
        u = _unit(seed, i)
        s = named[i]
        if s is None:
            s = "train" if u < f_train else "validation" if u < f_train + f_val else "test"
        elif s == "train" and "validation" not in has and u < f_val:
            s = "validation"
        elif s == "train" and "test" not in has and u >= 1 - f_test:
            s = "test"
        out[i] = s
    return out


def _unit(seed: int, item_id: str) -> float:
    digest = hashlib.sha1(f"{seed}:{item_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Arrays:
    """A split as arrays, for the search: per modality (face, voice, text) its probabilities and conditions."""

    probs: np.ndarray  # (3, N, 4), zeros where absent
    present: np.ndarray  # (3, N)
    cond: np.ndarray  # (3, N): the rules' quality condition (low face quality, no speech, short text)
    truth: np.ndarray  # (N,)
    features: np.ndarray  # (N, F): the logistic model's

    @staticmethod
    def of(split: Sequence[Example]) -> Arrays:
        n = len(split)
        probs = np.zeros((3, n, len(EMOTIONS)))
        present = np.zeros((3, n), dtype=bool)
        cond = np.zeros((3, n), dtype=bool)
        for j, e in enumerate(split):
            c = learned.conditions(e.inputs)
            for i, m in enumerate(learned.MODALITIES):
                reading = getattr(e.inputs, m)
                cond[i, j] = c[m]
                if reading is not None:
                    probs[i, j] = reading.probabilities
                    present[i, j] = True
        return Arrays(
            probs=probs,
            present=present,
            cond=cond,
            truth=np.asarray([EMOTIONS.index(e.truth4) for e in split], dtype=int),
            features=np.asarray([learned.features(e.inputs) for e in split]).reshape(n, len(learned.FEATURES)),
        )


def fixed_probabilities(a: Arrays, params: np.ndarray) -> np.ndarray:
    """`rules.fuse`'s weighted average, vectorised (a test checks it against the rules item by item).

    params: face, voice, text base weights, then the three factors. An item that the weights leave with
    nothing (all its modalities at weight 0) gets the uniform distribution: it must cost the fit, or the
    search could "improve" by silencing the modality of the hard items.
    """
    base, factor = params[:3, None], params[3:, None]
    raw = base * a.present * np.where(a.cond, factor, 1.0)
    total = raw.sum(axis=0)
    fused = np.einsum("mn,mnk->nk", raw, a.probs)
    sums = fused.sum(axis=1, keepdims=True)
    uniform = np.full_like(fused, 1.0 / len(EMOTIONS))
    return np.asarray(np.where((total > 0)[:, None] & (sums > 0), fused / np.where(sums > 0, sums, 1.0), uniform))


def log_loss(probabilities: np.ndarray, truth: np.ndarray) -> float:
    return float(-np.log(np.clip(probabilities[np.arange(len(truth)), truth], FLOOR, 1.0)).mean())


def uar(probabilities: np.ndarray, truth: np.ndarray) -> float:
    predicted = probabilities.argmax(axis=1)
    return float(np.mean([(predicted[truth == c] == c).mean() for c in np.unique(truth)]))


def fit_fixed(
    a: Arrays, start: rules.FusionWeights | None = None, step: float = 0.2, min_step: float = 0.002
) -> rules.FusionWeights:
    """Coordinate search for the six numbers of the rules; base weights normalised to sum 1, factors in [0, 1]."""
    params = _params(start or rules.FusionWeights())
    params[:3] /= params[:3].sum()
    best = log_loss(fixed_probabilities(a, params), a.truth)
    while step >= min_step:
        improved = False
        for i in range(len(params)):
            for delta in (step, -step):
                candidate = params.copy()
                candidate[i] = np.clip(candidate[i] + delta, 0.0, 1.0)
                if candidate[:3].sum() <= 0:
                    continue
                candidate[:3] /= candidate[:3].sum()  # only the ratios of the base weights matter
                loss = log_loss(fixed_probabilities(a, candidate), a.truth)
                if loss < best - 1e-12:
                    params, best, improved = candidate, loss, True
                    break
        if not improved:
            step /= 2
    return rules.FusionWeights(*(float(round(p, 4)) for p in params))


def fit_logistic(a: Arrays, l2: float, iterations: int = 400) -> learned.LogisticFusion:
    """Multinomial logistic regression by Nesterov gradient descent on standardised features, L2 on the
    weights (not the bias); the standardisation is folded back so the file holds plain weights."""
    x = a.features
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-8] = 1.0  # a constant feature (a condition the training split never shows) stays 0
    z = np.hstack([(x - mean) / scale, np.ones((len(x), 1))])
    onehot = np.eye(len(EMOTIONS))[a.truth]
    # The softmax loss's curvature is at most half the largest eigenvalue of z'z / n: a step of 1 / L never overshoots.
    lipschitz = 0.5 * float(np.linalg.eigvalsh(z.T @ z / len(z)).max()) + l2
    lr = 1.0 / lipschitz
    penalty = np.ones(z.shape[1])
    penalty[-1] = 0.0
    theta = np.zeros((z.shape[1], len(EMOTIONS)))
    theta[-1] = np.log(onehot.mean(axis=0) + 1e-3)  # start from the class prior
    previous, momentum = theta.copy(), theta.copy()
    for t in range(1, iterations + 1):
        p = learned.softmax(z @ momentum)
        gradient = z.T @ (p - onehot) / len(z) + l2 * penalty[:, None] * momentum
        theta = momentum - lr * gradient
        momentum = theta + (t - 1) / (t + 2) * (theta - previous)
        previous = theta
    weights = (theta[:-1] / scale[:, None]).T
    bias = theta[-1] - weights @ mean
    return learned.LogisticFusion(weights=weights, bias=bias)


def logistic_probabilities(a: Arrays, model: learned.LogisticFusion) -> np.ndarray:
    return learned.softmax(a.features @ model.weights.T + model.bias)


@dataclass(frozen=True)
class Scores:
    uar: float
    log_loss: float

    def better_than(self, other: Scores, select: str) -> bool:
        if select == "log-loss":
            return self.log_loss < other.log_loss
        return (self.uar, -self.log_loss) > (other.uar, -other.log_loss)


@dataclass(frozen=True)
class FitResult:
    fixed: rules.FusionWeights
    logistic: learned.LogisticFusion
    l2: float
    validation: dict[str, Scores]
    chosen: learned.Fitted
    chosen_name: str


def fit(train: Sequence[Example], validation: Sequence[Example], select: str = "uar") -> FitResult:
    """Fit both candidates on `train`; the validation split picks the L2 strength and the winner."""
    a_train, a_val = Arrays.of(_readable(train)), Arrays.of(_readable(validation))
    if not len(a_train.truth) or not len(a_val.truth):
        raise ValueError("the training and validation splits need items with at least one reading")
    fixed = fit_fixed(a_train)
    scores = {
        SEED_LABEL: _scores(fixed_probabilities(a_val, _params(rules.FusionWeights())), a_val.truth),
        FIXED_LABEL: _scores(fixed_probabilities(a_val, _params(fixed)), a_val.truth),
    }
    best_l2, best_model, best_scores = L2_GRID[0], None, None
    for l2 in L2_GRID:
        model = fit_logistic(a_train, l2)
        s = _scores(logistic_probabilities(a_val, model), a_val.truth)
        if best_scores is None or s.log_loss < best_scores.log_loss:
            best_l2, best_model, best_scores = l2, model, s
    assert best_model is not None and best_scores is not None
    scores[LOGISTIC_LABEL] = best_scores
    # A tie goes to the fitted rules: fewer numbers, and weights a person can read.
    logistic_wins = best_scores.better_than(scores[FIXED_LABEL], select)
    return FitResult(
        fixed=fixed,
        logistic=best_model,
        l2=best_l2,
        validation=scores,
        chosen=best_model if logistic_wins else fixed,
        chosen_name=LOGISTIC_LABEL if logistic_wins else FIXED_LABEL,
    )


def fused_prediction(example: Example, method: rules.FusionWeights | rules.LateFusion) -> Prediction:
    """One item's fused prediction through the service's own rules (None probabilities: nothing to fuse)."""
    started = time.perf_counter()
    result = rules.fuse(example.inputs, method)
    return Prediction(
        item_id=example.item_id,
        modality="fused",
        truth4=example.truth4,
        truth=example.truth,
        probabilities=tuple(result.probabilities) if result is not None else None,
        seconds=example.seconds + time.perf_counter() - started,
    )


@dataclass(frozen=True)
class FlagScores:
    flag: str
    n: int
    positives: int
    flagged: int
    precision: float | None
    recall: float | None


def flag_scores(split: Sequence[Example], method: rules.FusionWeights | rules.LateFusion) -> list[FlagScores]:
    """The rules' conflict and masking flags against the items' labels (meta `conflict` / `masking`)."""
    out = []
    for flag in ("conflict", "masking"):
        labelled = [(e, _truthy(e.meta[flag])) for e in split if flag in e.meta]
        if not labelled:
            continue
        said = []
        for e, _ in labelled:
            result = rules.fuse(e.inputs, method)
            said.append(bool(result is not None and getattr(result, flag)))
        truth = [t for _, t in labelled]
        tp = sum(s and t for s, t in zip(said, truth, strict=True))
        out.append(
            FlagScores(
                flag=flag,
                n=len(labelled),
                positives=sum(truth),
                flagged=sum(said),
                precision=tp / sum(said) if any(said) else None,
                recall=tp / sum(truth) if any(truth) else None,
            )
        )
    return out


def fit_fusion_command(argv: Sequence[str] | None = None) -> int:
    """`python -m mrrrme.eval fit-fusion`: fit, choose, write the weights file and the test report."""
    parser = argparse.ArgumentParser(prog="python -m mrrrme.eval fit-fusion", description=__doc__.split("\n\n")[0])
    parser.add_argument("predictions", type=Path, help="predictions.jsonl, or the report folder of a multimodal run")
    parser.add_argument("--out", type=Path, default=Path("eval-report/fit-fusion"), help="the report folder")
    parser.add_argument("--weights", type=Path, help="the weights file to write (default: OUT/fusion-weights.json)")
    parser.add_argument("--select", choices=("uar", "log-loss"), default="uar", help="what wins on validation")
    parser.add_argument("--seed", type=int, default=0, help="the hash split's seed, where the data has no split")
    parser.add_argument(
        "--split", default="0.6,0.2,0.2", help="train,validation,test shares where the data has no split"
    )
    parser.add_argument("--no-plots", action="store_true", help="tables only (no matplotlib needed)")
    args = parser.parse_args(argv)
    try:
        fractions = tuple(float(f) for f in args.split.split(","))
        if len(fractions) != 3 or min(fractions) <= 0:
            raise ValueError
    except ValueError:
        parser.error("--split takes three positive shares, e.g. 0.6,0.2,0.2")
    try:
        data = read_predictions(args.predictions)
    except (OSError, ValueError) as exc:
        print(f"fit-fusion: {exc}")
        return 2
    items = examples(data.predictions, data.meta)
    splits = assign_splits([e.item_id for e in items], data.splits, fractions, args.seed)
    parts = {s: [e for e in items if splits[e.item_id] == s] for s in ("train", "validation", "test")}
    try:
        result = fit(parts["train"], parts["validation"], args.select)
    except ValueError as exc:
        print(f"fit-fusion: {exc} (items per split: {', '.join(f'{k} {len(v)}' for k, v in parts.items())})")
        return 2
    weights_path = args.weights or args.out / "fusion-weights.json"
    report, figures = write_fit_report(
        args.out, weights_path, result, parts, data.predictions, plots=not args.no_plots, select=args.select
    )
    for label, m in figures.items():
        if m.four is not None:
            print(f"test {label}: accuracy {m.four.accuracy:.3f}, UAR {m.four.uar:.3f}, macro-F1 {m.four.macro_f1:.3f}")
    print(f"chosen on validation: {result.chosen_name}; weights file {weights_path}; report {report}")
    return 0


def write_fit_report(
    out: Path,
    weights_path: Path,
    result: FitResult,
    parts: Mapping[str, Sequence[Example]],
    predictions: Sequence[Prediction],
    plots: bool = True,
    select: str = "uar",
) -> tuple[Path, dict[str, ModalityMetrics]]:
    """The test split side by side (each modality alone, the seed, both fitted candidates) and the weights file."""
    test = parts["test"]
    test_ids = {e.item_id for e in test}
    sections: dict[str, list[Prediction]] = {}
    for m in learned.MODALITIES:
        alone = [p for p in predictions if p.modality == m and p.item_id in test_ids and p.truth4 is not None]
        if alone:
            sections[m] = alone
    methods: dict[str, rules.FusionWeights | rules.LateFusion] = {
        SEED_LABEL: rules.FusionWeights(),
        FIXED_LABEL: result.fixed,
        LOGISTIC_LABEL: result.logistic,
    }
    for label, method in methods.items():
        sections[label] = [fused_prediction(e, method) for e in test]
    test_figures = {label: evaluate(sections[label], label) for label in methods}
    f = result.fixed
    notes = [
        f"items: {', '.join(f'{k} {len(v)}' for k, v in parts.items())} "
        "(the test split was seen by neither the fit nor the choice)",
        f"chosen on the validation split by {select}: **{result.chosen_name}**, written to `{weights_path}`",
        "validation: "
        + "; ".join(f"{k} UAR {v.uar:.3f}, log-loss {v.log_loss:.3f}" for k, v in result.validation.items()),
        f"fitted weights: face {f.face:.3f}, voice {f.voice:.3f}, text {f.text:.3f}; factors: low face quality "
        f"x{f.low_quality_face_factor:.2f}, no speech x{f.no_speech_voice_factor:.2f}, "
        f"short text x{f.short_text_factor:.2f}",
        f"logistic: {len(learned.FEATURES)} features, L2 {result.l2:g} (chosen on the validation log-loss)",
    ]
    seen = Arrays.of(_readable(parts["train"])).cond.sum(axis=1)
    for factor, count in zip(("low face quality", "no speech", "short text"), seen, strict=True):
        if not count:  # the loss does not depend on a factor whose condition never occurs: it keeps the seed's
            notes.append(f"{factor}: no training item has it, so its factor is the seed's, not fitted")
    seed_scores = result.validation[SEED_LABEL]
    if not result.validation[result.chosen_name].better_than(seed_scores, select):
        notes.append(
            f"warning: the seed's fixed weights did as well on the validation split ({select}); "
            "keeping them (no MRRRME_FUSION_WEIGHTS_FILE) may be the better choice"
        )
    flags: dict[str, list[dict[str, Any]]] = {}
    for label, method in methods.items():
        for s in flag_scores(test, method):
            flags.setdefault(label, []).append(dataclasses.asdict(s))
            notes.append(
                f"{label}: {s.flag} flag on {s.n} labelled items ({s.positives} true): flagged {s.flagged}, "
                f"precision {_pct(s.precision)}, recall {_pct(s.recall)}"
            )
    if not flags:
        notes.append("conflict / masking: no item carries a `conflict` or `masking` label, not evaluated")
    doc = learned.document(
        result.chosen,
        fixed=result.fixed,
        fitted={
            "chosen": result.chosen_name,
            "select": select,
            "items": {k: len(v) for k, v in parts.items()},
            "validation": {k: dataclasses.asdict(v) for k, v in result.validation.items()},
            "test": {
                k: {"accuracy": m.four.accuracy, "uar": m.four.uar, "macro_f1": m.four.macro_f1, "log_loss": m.log_loss}
                for k, m in test_figures.items()
                if m.four is not None
            },
            "flags": flags,
            "l2": result.l2,
        },
    )
    learned.parse(doc)  # what the service will read back must be valid before it is written
    weights_path.parent.mkdir(parents=True, exist_ok=True)
    weights_path.write_text(json.dumps(doc, indent=2, allow_nan=False) + "\n")
    return write_report(out, sections, "Learned fusion: the test split", notes, plots=plots), test_figures


def _readable(split: Sequence[Example]) -> list[Example]:
    return [e for e in split if any(getattr(e.inputs, m) is not None for m in learned.MODALITIES)]


def _params(w: rules.FusionWeights) -> np.ndarray:
    """In `FusionWeights` field order: face, voice, text, then the three factors (`fixed_probabilities`' order)."""
    return np.array([getattr(w, f.name) for f in dataclasses.fields(rules.FusionWeights)], dtype=float)


def _scores(probabilities: np.ndarray, truth: np.ndarray) -> Scores:
    return Scores(uar=uar(probabilities, truth), log_loss=log_loss(probabilities, truth))


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("1", "true", "yes", "y")


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"
