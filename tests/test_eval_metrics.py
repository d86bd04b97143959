"""The evaluation metrics against hand-computed values, and the report folder (tables, JSON, PNG plots)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from mrrrme.contracts import EMOTIONS
from mrrrme.emotions import to_four
from mrrrme.eval.metrics import calibration, evaluate, evaluate_by_modality
from mrrrme.eval.report import read_predictions, write_predictions, write_report
from mrrrme.eval.types import Item, Modality, Prediction

N, H, S, A = EMOTIONS


def peaked(top: str) -> tuple[float, ...]:
    """0.7 on `top`, 0.1 on each other class: every top-class confidence is 0.7."""
    return tuple(0.7 if c == top else 0.1 for c in EMOTIONS)


# (truth, predicted). Confusion, rows truth N H S A, columns predicted N H S A:
#   N: 3 1 0 0
#   H: 1 2 0 0
#   S: 1 0 1 0
#   A: 0 0 1 0
PAIRS = [(N, N), (N, N), (N, N), (N, H), (H, H), (H, H), (H, N), (S, S), (S, N), (A, S)]


def hand_made(modality: Modality = "face") -> list[Prediction]:
    scored = [
        Prediction(f"i{k}", modality, truth, truth.lower(), peaked(predicted), seconds=0.01 * (k + 1))
        for k, (truth, predicted) in enumerate(PAIRS)
    ]
    unread = [Prediction(f"u{k}", modality, H, "happy", None, seconds=0.01 * (11 + k)) for k in range(2)]
    # A truth with no four-class meaning: read (coverage), but not in the four-class scores.
    contempt = Prediction("c", modality, None, "contempt", peaked(A), seconds=0.13)
    return [*scored, *unread, contempt]


def test_four_class_scores_equal_the_hand_computed_ones() -> None:
    m = evaluate(hand_made())
    assert m.four is not None
    assert m.four.confusion == ((3, 1, 0, 0), (1, 2, 0, 0), (1, 0, 1, 0), (0, 0, 1, 0))
    assert m.four.n == 10 and m.four.support == (4, 3, 2, 1)
    # Accuracy: the diagonal 3 + 2 + 1 + 0 = 6 of 10.
    assert m.four.accuracy == pytest.approx(6 / 10)
    # Recall per row: N 3/4, H 2/3, S 1/2, A 0/1; UAR = (9/12 + 8/12 + 6/12 + 0) / 4 = 23/48.
    assert m.four.recall == pytest.approx((3 / 4, 2 / 3, 1 / 2, 0.0))
    assert m.four.uar == pytest.approx(23 / 48)
    # Precision per column: N 3/(3+1+1) = 3/5, H 2/(1+2) = 2/3, S 1/(1+1) = 1/2, A never predicted: None.
    assert m.four.precision[:3] == pytest.approx((3 / 5, 2 / 3, 1 / 2)) and m.four.precision[3] is None
    # F1 = 2TP / (support + predicted): N 6/9, H 4/6, S 2/4, A 0/1; macro = (2/3 + 2/3 + 1/2 + 0) / 4 = 11/24.
    assert m.four.f1 == pytest.approx((2 / 3, 2 / 3, 1 / 2, 0.0))
    assert m.four.macro_f1 == pytest.approx(11 / 24)


def test_coverage_latency_log_loss_and_calibration_of_the_hand_made_set() -> None:
    m = evaluate(hand_made())
    # 13 items: 10 scored + 1 contempt read, 2 with no reading.
    assert (m.items, m.read) == (13, 11) and m.coverage == pytest.approx(11 / 13)
    # Seconds 0.01 .. 0.13: mean 0.07, median 0.07, p95 at rank 0.95 * 12 = 11.4: 0.12 + 0.4 * 0.01.
    assert m.latency is not None
    assert (m.latency.mean_s, m.latency.p50_s, m.latency.p95_s) == pytest.approx((0.07, 0.07, 0.124))
    # The true class gets 0.7 when right (6 items) and 0.1 when wrong (4): -(6 ln 0.7 + 4 ln 0.1) / 10.
    import math

    assert m.log_loss == pytest.approx(-(6 * math.log(0.7) + 4 * math.log(0.1)) / 10)
    # Every confidence is 0.7 (one bin, 0.667-0.733) and 6 of 10 are right: ECE = |0.6 - 0.7| = 0.1.
    assert m.calibration is not None and m.calibration.ece == pytest.approx(0.1)
    (filled,) = [b for b in m.calibration.bins if b.count]
    assert filled.count == 10 and filled.lower == pytest.approx(10 / 15) and filled.accuracy == pytest.approx(0.6)


def test_expected_calibration_error_on_a_hand_made_case() -> None:
    # Bin (14/15, 1]: 0.95 right, 0.95 wrong -> accuracy 0.5, confidence 0.95, gap 0.45, weight 2/5.
    # Bin (9/15, 10/15]: 0.62 right -> gap 0.38, weight 1/5.
    # Bin (4/15, 5/15]: 0.30 wrong, 0.32 right -> accuracy 0.5, confidence 0.31, gap 0.19, weight 2/5.
    # ECE = 0.4 * 0.45 + 0.2 * 0.38 + 0.4 * 0.19 = 0.18 + 0.076 + 0.076 = 0.332.
    c = calibration([0.95, 0.95, 0.62, 0.30, 0.32], [True, False, True, False, True])
    assert c is not None and len(c.bins) == 15
    assert c.ece == pytest.approx(0.332)
    assert [b.count for b in c.bins] == [0, 0, 0, 0, 2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 2]
    assert c.bins[4].confidence == pytest.approx(0.31) and c.bins[4].accuracy == pytest.approx(0.5)
    # A confidence on an edge belongs to the bin below it: 0.4 = 6/15 is in (5/15, 6/15].
    edge = calibration([0.4], [True])
    assert edge is not None and edge.bins[5].count == 1 and edge.ece == pytest.approx(0.6)


def fer(top: dict[str, float]) -> dict[str, float]:
    """FER's seven labels, the mass not given in `top` spread evenly over the others."""
    labels = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
    rest = (1.0 - sum(top.values())) / (len(labels) - len(top))
    return {label: top.get(label, rest) for label in labels}


SEVEN_CASES = [  # dataset label, its four-class truth, the model's seven scores
    ("fear", S, fer({"sad": 0.6})),  # 7 wrong, folded right
    ("sad", S, fer({"fear": 0.6})),  # 7 wrong, folded right
    ("happy", H, fer({"happy": 0.7})),  # right either way
    ("disgust", A, fer({"angry": 0.6})),  # 7 wrong, folded right
    ("surprise", N, fer({"happy": 0.4, "surprise": 0.35, "neutral": 0.25})),  # wrong, folded wrong, summed right
    ("calm", N, fer({"neutral": 0.6})),  # a label the model does not have: 7 wrong, folded right
    ("contempt", None, fer({"angry": 0.6})),  # no four-class meaning: 7-class scores only
]


def seven_predictions() -> list[Prediction]:
    return [
        Prediction(f"s{k}", "face", truth4, label, tuple(to_four(scores)), scores7=scores)
        for k, (label, truth4, scores) in enumerate(SEVEN_CASES)
    ]


def test_seven_class_scores_and_the_four_class_mappings_effect() -> None:
    m = evaluate(seven_predictions())
    assert m.seven is not None and m.mapping is not None
    # The model's labels in canonical order, then the dataset's labels it lacks.
    assert m.seven.labels == ("neutral", "happy", "sad", "angry", "fear", "disgust", "surprise", "calm", "contempt")
    assert m.seven.n == 7 and m.seven.accuracy == pytest.approx(1 / 7)  # only "happy" is right
    assert m.seven.confusion[m.seven.labels.index("calm")][0] == 1  # calm read as neutral
    e = m.mapping
    assert e.n == 6  # contempt has no four-class truth
    assert e.accuracy7 == pytest.approx(1 / 6)
    assert e.accuracy7_folded == pytest.approx(5 / 6)  # all but surprise -> happy
    assert e.accuracy4 == pytest.approx(1.0)  # summed: surprise + neutral = 0.6 beats happy 0.4
    # UAR over the six true labels: only happy's recall is 1.
    assert e.uar7 == pytest.approx(1 / 6)
    # Folded recalls: Sad 2/2, Happy 1/1, Angry 1/1, Neutral 1/2 (calm right, surprise wrong): 3.5 / 4.
    assert e.uar7_folded == pytest.approx(0.875) and e.uar4 == pytest.approx(1.0)
    assert m.four is not None and m.four.n == 6


def test_evaluate_by_modality_keeps_the_modality_order() -> None:
    mixed = hand_made("text") + hand_made("face")
    assert list(evaluate_by_modality(mixed)) == ["face", "text"]
    with pytest.raises(ValueError, match="truth4"):
        evaluate([Prediction("x", "face", "Bored", "bored", peaked(N))])


def assert_png(path: Path) -> None:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as image:
        image.verify()
    with Image.open(path) as image:
        assert image.size[0] > 100 and image.size[1] > 100


def test_the_report_folder_has_tables_figures_and_valid_pngs(tmp_path: Path) -> None:
    predictions = hand_made("face") + hand_made("voice") + seven_predictions()
    report = write_report(tmp_path, predictions, "Hand-made", notes=["fixture: tests/test_eval_metrics.py"])
    text = report.read_text()
    assert text.startswith("# Hand-made") and "- fixture: tests/test_eval_metrics.py" in text
    assert "| true \\ predicted | Neutral | Happy | Sad | Angry | recall |" in text
    assert "| Neutral | 3 | 1 | 0 | 0 | 75.0 % |" in text  # the hand-computed first row
    assert "The four-class mapping's effect" in text and "| 7 labels |" in text
    figures = json.loads((tmp_path / "report.json").read_text())
    assert figures["schema"] == 1 and list(figures["sections"]) == ["face", "voice"]
    voice = figures["sections"]["voice"]
    assert voice["four"]["uar"] == pytest.approx(23 / 48) and voice["calibration"]["ece"] == pytest.approx(0.1)
    assert voice["mapping"] is None and figures["sections"]["face"]["mapping"]["n"] == 6
    for name in ("confusion-face", "confusion7-face", "reliability-face", "confusion-voice", "reliability-voice"):
        assert_png(tmp_path / f"{name}.png")
        assert f"]({name}.png)" in text
    assert not (tmp_path / "confusion7-voice.png").exists()  # voice has no 7-class scores here


def test_sections_by_name_and_predictions_read_back(tmp_path: Path) -> None:
    predictions = hand_made("fused")
    items = [Item(id="i0", label="neutral", label4=N, split="test", meta={"conflict": "1"})]
    write_report(tmp_path, {"fused: a": predictions, "fused: b": predictions[:5]}, "Sections", plots=False)
    assert json.loads((tmp_path / "report.json").read_text())["sections"]["fused: b"]["items"] == 5
    assert not list(tmp_path.glob("*.png"))
    path = write_predictions(tmp_path / "p.jsonl", predictions + seven_predictions(), items)
    back = read_predictions(path)
    assert back.predictions == predictions + seven_predictions()
    assert back.splits == {"i0": "test"} and back.meta == {"i0": {"conflict": "1"}}
    path.write_text('{"item_id": "x", "modality": "smell"}\n')
    with pytest.raises(ValueError, match=r"p\.jsonl:1"):
        read_predictions(path)
