"""One folder per evaluation: report.md (tables), report.json (every figure), PNG plots, predictions.jsonl.

`write_report` takes the predictions (grouped by modality, or by any section names the caller gives, e.g.
fusion methods side by side) and writes:
- `report.md`: a summary table, then per section the four-class confusion matrix, per-class recall,
  precision and F1, the reliability bins, the 7-class table and the four-class mapping's effect;
- `report.json`: the same figures (`mrrrme.eval.metrics` dataclasses as JSON), `schema` versioned;
- `confusion-<section>.png`, `confusion7-<section>.png` (where 7-class scores exist) and
  `reliability-<section>.png`: matplotlib with the Agg canvas (no display, no pyplot global state);
- `predictions.jsonl`: every prediction, one JSON object a line (with the item's split and meta when the
  items are given), which `python -m mrrrme.eval fit-fusion` reads back.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from mrrrme.eval.metrics import ClassScores, ModalityMetrics, evaluate, evaluate_by_modality
from mrrrme.eval.types import MODALITIES, Item, Modality, Prediction

REPORT_SCHEMA = 1
PREDICTIONS_SCHEMA = 1


def write_report(
    folder: Path,
    predictions: Sequence[Prediction] | Mapping[str, Sequence[Prediction]],
    title: str,
    notes: Sequence[str] = (),
    items: Sequence[Item] = (),
    plots: bool = True,
) -> Path:
    """Write the report folder; returns the path of report.md.

    `predictions`: a flat list (one section per modality) or sections by name. `notes`: lines for the top
    of the report (dataset, command, backends). `items`: their split and meta go into predictions.jsonl.
    """
    folder.mkdir(parents=True, exist_ok=True)
    if isinstance(predictions, Mapping):
        sections = {name: evaluate(list(group), name) for name, group in predictions.items()}
        flat = [p for group in predictions.values() for p in group]
    else:
        sections = evaluate_by_modality(predictions)
        flat = list(predictions)
    images: dict[str, list[str]] = {}
    if plots:
        for name, metrics in sections.items():
            images[name] = _plots(folder, name, metrics)
    (folder / "report.json").write_text(
        json.dumps(
            {
                "schema": REPORT_SCHEMA,
                "title": title,
                "notes": list(notes),
                "sections": {name: dataclasses.asdict(m) for name, m in sections.items()},
            },
            indent=2,
            allow_nan=False,
        )
        + "\n"
    )
    write_predictions(folder / "predictions.jsonl", flat, items)
    path = folder / "report.md"
    path.write_text(render_markdown(title, notes, sections, images))
    return path


def render_markdown(
    title: str, notes: Sequence[str], sections: Mapping[str, ModalityMetrics], images: Mapping[str, list[str]]
) -> str:
    lines = [f"# {title}", ""]
    lines += [f"- {note}" for note in notes]
    lines += ["", "## Summary", ""]
    lines += _table(
        ["", "items", "read", "coverage", "accuracy", "UAR", "macro-F1", "log-loss", "ECE", "p50 ms", "p95 ms"],
        [
            [
                name,
                str(m.items),
                str(m.read),
                _pct(m.coverage),
                _pct(m.four.accuracy if m.four else None),
                _pct(m.four.uar if m.four else None),
                _pct(m.four.macro_f1 if m.four else None),
                _num(m.log_loss),
                _num(m.calibration.ece if m.calibration else None),
                _ms(m.latency.p50_s if m.latency else None),
                _ms(m.latency.p95_s if m.latency else None),
            ]
            for name, m in sections.items()
        ],
    )
    for name, m in sections.items():
        lines += ["", f"## {name}", ""]
        lines.append(
            f"{m.items} items, {m.read} read ({_pct(m.coverage)} coverage), "
            f"{m.four.n if m.four else 0} with a four-class truth."
        )
        if m.latency:
            lines.append(
                f"Latency per item: mean {_ms(m.latency.mean_s)} ms, p50 {_ms(m.latency.p50_s)} ms, "
                f"p95 {_ms(m.latency.p95_s)} ms."
            )
        if m.four:
            lines += ["", "Four classes (rows: truth, columns: prediction):", ""]
            lines += _confusion(m.four)
            lines += ["", *_per_class(m.four)]
        if m.calibration:
            lines += ["", f"Calibration: ECE {m.calibration.ece:.3f} over {m.calibration.n} items (15 bins).", ""]
            lines += _table(
                ["confidence bin", "items", "mean confidence", "accuracy"],
                [
                    [f"{b.lower:.2f}-{b.upper:.2f}", str(b.count), _num(b.confidence), _pct(b.accuracy)]
                    for b in m.calibration.bins
                    if b.count
                ],
            )
        if m.seven:
            lines += ["", f"The model's own labels ({m.seven.n} items):", ""]
            lines += _confusion(m.seven)
            lines += [
                "",
                f"7-class accuracy {_pct(m.seven.accuracy)}, UAR {_pct(m.seven.uar)}, "
                f"macro-F1 {_pct(m.seven.macro_f1)}.",
            ]
        if m.mapping:
            e = m.mapping
            lines += ["", f"The four-class mapping's effect ({e.n} items with both):", ""]
            lines += _table(
                ["scored as", "accuracy", "UAR"],
                [
                    ["7 labels", _pct(e.accuracy7), _pct(e.uar7)],
                    ["top 7-class label folded to four", _pct(e.accuracy7_folded), _pct(e.uar7_folded)],
                    ["four classes (summed probabilities)", _pct(e.accuracy4), _pct(e.uar4)],
                ],
            )
        for image in images.get(name, []):
            lines += ["", f"![{image}]({image})"]
    return "\n".join(lines) + "\n"


def _plots(folder: Path, name: str, m: ModalityMetrics) -> list[str]:
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "section"
    written: list[str] = []
    if m.four:
        written.append(plot_confusion(folder / f"confusion-{slug}.png", m.four, f"{name}: four classes").name)
    if m.seven:
        written.append(plot_confusion(folder / f"confusion7-{slug}.png", m.seven, f"{name}: own labels").name)
    if m.calibration:
        written.append(plot_reliability(folder / f"reliability-{slug}.png", m, f"{name}: reliability").name)
    return written


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise RuntimeError("the report's plots need matplotlib: pip install -e '.[eval]'") from None
    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)  # the Agg canvas: renders to PNG with no display and no pyplot state
    return figure


def plot_confusion(path: Path, scores: ClassScores, title: str) -> Path:
    """A row-normalised heat map (colour: share of the true class) with the counts written in."""
    import numpy as np

    counts = np.asarray(scores.confusion, dtype=float)
    rows = counts.sum(axis=1, keepdims=True)
    share = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    k = len(scores.labels)
    figure = _figure(1.2 + 0.7 * k, 1.0 + 0.6 * k)
    ax = figure.add_subplot()
    image = ax.imshow(share, vmin=0.0, vmax=1.0, cmap="Blues")
    ax.set_xticks(range(k), scores.labels, rotation=45, ha="right")
    ax.set_yticks(range(k), scores.labels)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    for i in range(k):
        for j in range(k):
            ax.text(
                j, i, str(int(counts[i, j])), ha="center", va="center", color="white" if share[i, j] > 0.5 else "black"
            )
    figure.colorbar(image, ax=ax, fraction=0.046, pad=0.04)
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


def plot_reliability(path: Path, m: ModalityMetrics, title: str) -> Path:
    """Accuracy per confidence bin against the diagonal of perfect calibration, with the items per bin."""
    assert m.calibration is not None
    bins = m.calibration.bins
    figure = _figure(5.0, 5.0)
    ax = figure.add_subplot()
    width = bins[0].upper - bins[0].lower
    filled = [b for b in bins if b.count]
    ax.bar([b.lower for b in filled], [b.accuracy or 0.0 for b in filled], width=width, align="edge",
           edgecolor="black", label="accuracy")  # fmt: skip
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfect calibration")
    ax.plot([b.confidence for b in filled], [b.accuracy for b in filled], "o", color="darkorange",
            label="mean confidence")  # fmt: skip
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.set_xlabel("top-class confidence")
    ax.set_ylabel("accuracy")
    ax.set_title(f"{title} (ECE {m.calibration.ece:.3f})")
    ax.legend(loc="upper left")
    figure.tight_layout()
    figure.savefig(path, format="png")
    return path


@dataclass(frozen=True)
class PredictionSet:
    """Predictions read back from predictions.jsonl, with each item's split and meta where they were written."""

    predictions: list[Prediction]
    splits: dict[str, str] = field(default_factory=dict)
    meta: dict[str, dict[str, str]] = field(default_factory=dict)


def write_predictions(path: Path, predictions: Sequence[Prediction], items: Sequence[Item] = ()) -> Path:
    by_id = {item.id: item for item in items}
    with path.open("w") as out:
        for p in predictions:
            row: dict[str, Any] = {"schema": PREDICTIONS_SCHEMA, **dataclasses.asdict(p)}
            item = by_id.get(p.item_id)
            if item is not None:
                row["split"], row["meta"] = item.split, dict(item.meta)
            out.write(json.dumps(row, allow_nan=False) + "\n")
    return path


def read_predictions(path: Path) -> PredictionSet:
    """predictions.jsonl (or a report folder holding one) -> the predictions, splits and meta."""
    if path.is_dir():
        path = path / "predictions.jsonl"
    out = PredictionSet([])
    names = {f.name for f in dataclasses.fields(Prediction)}
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            if row.get("modality") not in MODALITIES:
                raise ValueError(f"modality must be one of {MODALITIES}")
            probabilities = row.get("probabilities")
            prediction = Prediction(
                **{k: v for k, v in row.items() if k in names and k not in ("probabilities", "modality")},
                modality=cast(Modality, row["modality"]),
                probabilities=tuple(float(x) for x in probabilities) if probabilities is not None else None,
            )
        except (ValueError, TypeError, KeyError) as exc:
            raise ValueError(f"{path}:{number}: not a prediction ({exc})") from None
        out.predictions.append(prediction)
        if row.get("split"):
            out.splits[prediction.item_id] = str(row["split"])
        if row.get("meta"):
            out.meta[prediction.item_id] = {str(k): str(v) for k, v in row["meta"].items()}
    return out


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(header) + " |",
        "|" + "|".join("---" for _ in header) + "|",
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _confusion(scores: ClassScores) -> list[str]:
    return _table(
        ["true \\ predicted", *scores.labels, "recall"],
        [
            [label, *(str(c) for c in row), _pct(recall)]
            for label, row, recall in zip(scores.labels, scores.confusion, scores.recall, strict=True)
        ],
    )


def _per_class(scores: ClassScores) -> list[str]:
    return _table(
        ["class", "items", "recall", "precision", "F1"],
        [
            [label, str(n), _pct(r), _pct(p), _pct(f)]
            for label, n, r, p, f in zip(
                scores.labels, scores.support, scores.recall, scores.precision, scores.f1, strict=True
            )
        ],
    )


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{1000 * value:.1f}"
