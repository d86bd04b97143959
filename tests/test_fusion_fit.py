"""Learned fusion: the fit recovers known weights, the logistic model wins where it should, the weights file
is checked at start-up, and the fusion service (its rules, and the running service over NATS and Redis)
gives a different fused result with a fitted file than with the seed's fixed weights."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.backends import StartupError
from mrrrme.contracts import EMOTIONS, FaceEmotion, FusedEmotion, new_id, reading_from_probabilities
from mrrrme.eval import fusion_fit
from mrrrme.eval.metrics import evaluate
from mrrrme.eval.report import write_predictions
from mrrrme.eval.types import Item, Modality, Prediction
from mrrrme.stack.infra import NatsServer, RedisServer
from services.fusion import fit as ff
from services.fusion import learned, rules
from services.fusion.rules import FusionWeights, Inputs
from services.fusion.service import FusionService
from services.fusion.settings import FusionSettings
from tests.mesh import inbox
from tests.test_fusion import HAPPY, SAD, fusion, send, spoken, turns_of

MODALITIES: tuple[Modality, ...] = ("face", "voice", "text")


def random_item(rng: np.random.Generator, j: int) -> tuple[dict[Modality, np.ndarray | None], dict[Modality, float]]:
    """Three modality distributions (each missing 10 % of the time) and their quality figures."""
    readings = {m: rng.dirichlet(np.full(4, 0.5)) if rng.uniform() > 0.1 else None for m in MODALITIES}
    qualities: dict[Modality, float] = {
        "face": float(rng.uniform()),  # below 0.5 half of the time: the low-quality factor
        "voice": 1.0 if rng.uniform() > 0.3 else 0.0,  # no speech 30 % of the time
        "text": float(rng.choice([5, 40])),  # short text half of the time
    }
    return readings, qualities


def predictions_of(
    j: int, readings: dict[Modality, np.ndarray | None], qualities: dict[Modality, float], truth: str
) -> list[Prediction]:
    return [
        Prediction(
            f"i{j}", m, truth, truth.lower(), None if p is None else tuple(float(x) for x in p), quality=qualities[m]
        )
        for m, p in readings.items()
    ]


def synthetic_by_rules(n: int, true: FusionWeights, seed: int = 0) -> list[Prediction]:
    """Labels drawn from the rules' own fused distribution under `true`: the log-likelihood is highest at
    `true`, so a fit on enough items must land near it."""
    rng = np.random.default_rng(seed)
    out: list[Prediction] = []
    for j in range(n):
        readings, qualities = random_item(rng, j)
        probe = [
            Prediction("probe", m, None, "", None if p is None else tuple(p), quality=qualities[m])
            for m, p in readings.items()
        ]
        fused = rules.fuse(ff.inputs_of(*probe), true)
        if fused is None:
            continue
        p = np.asarray(fused.probabilities)
        out += predictions_of(j, readings, qualities, EMOTIONS[int(rng.choice(4, p=p / p.sum()))])
    return out


def test_the_vectorised_search_is_the_rules_own_fusion() -> None:
    examples = ff.examples(synthetic_by_rules(300, FusionWeights(), seed=3))
    weights = FusionWeights(0.5, 0.2, 0.3, 0.4, 0.6, 0.8)
    vectorised = ff.fixed_probabilities(ff.Arrays.of(examples), ff._params(weights))
    for e, row in zip(examples, vectorised, strict=True):
        result = rules.fuse(e.inputs, weights)
        assert result is not None and row == pytest.approx(result.probabilities, abs=1e-9)


def test_the_fit_recovers_known_weights_and_factors() -> None:
    true = FusionWeights(face=0.6, voice=0.25, text=0.15, low_quality_face_factor=0.3,
                         no_speech_voice_factor=0.2, short_text_factor=0.4)  # fmt: skip
    examples = ff.examples(synthetic_by_rules(6000, true, seed=1))
    fitted = ff.fit_fixed(ff.Arrays.of(examples))
    # The seed's 0.4 / 0.3 / 0.3, x0.7, x0.5, x0.7 is outside every tolerance below: the search has to move.
    assert (fitted.face, fitted.voice, fitted.text) == pytest.approx((0.6, 0.25, 0.15), abs=0.05)
    assert fitted.low_quality_face_factor == pytest.approx(0.3, abs=0.12)
    assert fitted.no_speech_voice_factor == pytest.approx(0.2, abs=0.12)
    assert fitted.short_text_factor == pytest.approx(0.4, abs=0.15)


def synthetic_mislabelled_face(n: int, seed: int = 0) -> list[Prediction]:
    """The face model is sure and always 'wrong' in a fixed way (it reads Sad as Happy, Happy as Sad, Neutral
    as Angry, Angry as Neutral): a weighted average can only ignore it, a logistic model can undo it."""
    rng = np.random.default_rng(seed)
    swap = {0: 3, 1: 2, 2: 1, 3: 0}
    out: list[Prediction] = []
    for j in range(n):
        y = int(rng.integers(4))
        face = np.full(4, 0.05)
        face[swap[y]] = 0.85
        readings: dict[Modality, np.ndarray | None] = {"face": face}
        m: Modality
        for m in ("voice", "text"):  # weak, honest: a random distribution with 0.15 more on the truth
            noisy = rng.dirichlet(np.ones(4))
            readings[m] = 0.85 * noisy + 0.15 * np.eye(4)[y]
        out += predictions_of(j, readings, {"face": 0.9, "voice": 1.0, "text": 40.0}, EMOTIONS[y])
    return out


def split(examples: list[ff.Example]) -> dict[str, list[ff.Example]]:
    splits = ff.assign_splits([e.item_id for e in examples], {})
    return {s: [e for e in examples if splits[e.item_id] == s] for s in ("train", "validation", "test")}


def test_the_logistic_model_beats_fixed_weights_where_it_should_and_is_chosen() -> None:
    parts = split(ff.examples(synthetic_mislabelled_face(1500)))
    result = ff.fit(parts["train"], parts["validation"])
    assert result.chosen_name == ff.LOGISTIC_LABEL and isinstance(result.chosen, learned.LogisticFusion)
    on_test = {
        name: evaluate([ff.fused_prediction(e, method) for e in parts["test"]]).four
        for name, method in (("seed", FusionWeights()), ("fixed", result.fixed), ("logistic", result.logistic))
    }
    seed, fixed, logistic = (on_test[k] for k in ("seed", "fixed", "logistic"))
    assert seed is not None and fixed is not None and logistic is not None
    assert result.fixed.face < 0.1  # the rules' best is to ignore the face
    assert fixed.uar > seed.uar + 0.1
    assert logistic.uar > 0.95 and logistic.uar > fixed.uar + 0.2


def test_splits_follow_the_dataset_and_carve_what_it_lacks() -> None:
    ids = [f"i{k}" for k in range(1000)]
    both = ff.assign_splits(ids, {i: ("train" if k % 2 else "test") for k, i in enumerate(ids)})
    assert {both[i] for i in ids[::2]} == {"test"}  # the dataset's test split is kept whole
    carved = [both[i] for i in ids[1::2]]
    assert 0.1 < carved.count("validation") / len(carved) < 0.3 and "test" not in carved
    hashed = ff.assign_splits(ids, {})
    assert hashed == ff.assign_splits(ids, {}) and 500 < list(hashed.values()).count("train") < 700


def test_fit_fusion_command_writes_a_weights_file_the_service_loads_and_a_report(tmp_path: Path) -> None:
    predictions = synthetic_mislabelled_face(600, seed=2)
    items = [
        Item(id=f"i{j}", label="", label4=None, meta={"conflict": "1" if j % 2 else "0"}) for j in range(0, 600, 3)
    ]
    source = write_predictions(tmp_path / "predictions.jsonl", predictions, items)
    out = tmp_path / "fit"
    assert fusion_fit.fit_fusion_command([str(source), "--out", str(out), "--no-plots"]) == 0
    loaded = learned.load(out / "fusion-weights.json")
    assert isinstance(loaded, learned.LogisticFusion)
    doc = json.loads((out / "fusion-weights.json").read_text())
    assert doc["schema"] == learned.SCHEMA and doc["version"] == 1 and doc["kind"] == "logistic"
    assert set(doc["fixed"]) == {"face", "voice", "text", "low_quality_face_factor", "no_speech_voice_factor",
                                 "short_text_factor"}  # fmt: skip
    assert doc["fitted"]["test"][ff.LOGISTIC_LABEL]["uar"] > doc["fitted"]["test"][ff.SEED_LABEL]["uar"]
    report = (out / "report.md").read_text()
    for section in ("## face", f"## {ff.SEED_LABEL}", f"## {ff.FIXED_LABEL}", f"## {ff.LOGISTIC_LABEL}"):
        assert section in report
    assert "conflict flag on" in report  # the labelled items are scored
    assert fusion_fit.main([str(tmp_path / "missing.jsonl"), "--out", str(out)]) == 2


HAPPY_FACE = Inputs(face=HAPPY, face_quality=0.9, voice=SAD, text=reading_from_probabilities([0.7, 0.1, 0.1, 0.1]),
                    text_chars=40)  # fmt: skip


def write_fixed(path: Path, weights: FusionWeights) -> Path:
    path.write_text(json.dumps(learned.document(weights)))
    return path


def test_a_fitted_fixed_weights_file_changes_the_rules_result(tmp_path: Path) -> None:
    default = rules.fuse(HAPPY_FACE)
    # Seed: Happy 0.4 * 0.8 + 0.3 * 0.05 + 0.3 * 0.1 = 0.365 beats Sad 0.4 * 0.05 + 0.3 * 0.8 + 0.3 * 0.1 = 0.29.
    assert default is not None and default.emotion == "Happy"
    loaded = learned.load(write_fixed(tmp_path / "w.json", FusionWeights(0.1, 0.6, 0.3, 0.7, 0.5, 0.7)))
    fitted = rules.fuse(HAPPY_FACE, loaded)
    # Fitted: Happy 0.08 + 0.03 + 0.03 = 0.14, Sad 0.005 + 0.48 + 0.03 = 0.515.
    assert fitted is not None and fitted.emotion == "Sad" and fitted.weights["voice"] == pytest.approx(0.6)
    assert fitted.masking and default.masking  # the flags read the modalities, not the weights


def test_a_logistic_weights_file_changes_the_rules_result_and_keeps_the_flags(tmp_path: Path) -> None:
    weights = np.zeros((4, len(learned.FEATURES)))
    # A contrary model: the face's evidence for Happy over Neutral, 5 ln(0.8 / 0.1) = 10.4, goes to Angry.
    weights[EMOTIONS.index("Angry"), learned.FEATURES.index("face.log_happy")] = 5.0
    weights[EMOTIONS.index("Angry"), learned.FEATURES.index("face.log_neutral")] = -5.0
    model = learned.LogisticFusion(weights, np.zeros(4))
    path = tmp_path / "w.json"
    path.write_text(json.dumps(learned.document(model)))
    loaded = learned.load(path)
    result = rules.fuse(HAPPY_FACE, loaded)
    assert result is not None and result.emotion == "Angry"
    assert result.weights == pytest.approx({"face": 1.0, "voice": 0.0, "text": 0.0})  # only the face moved it
    assert result.masking and sum(result.probabilities) == pytest.approx(1.0)
    assert rules.fuse(Inputs(), loaded) is None  # nothing to read: nothing fused, as with the rules


def valid_fixed() -> dict[str, object]:
    return learned.document(FusionWeights())


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not JSON"),
        (json.dumps({"schema": "something else"}), "not a fusion weights file"),
        (json.dumps({**valid_fixed(), "version": 2}), "version 2"),
        (json.dumps({**valid_fixed(), "kind": "logistic"}), "no 'logistic' section"),
        (json.dumps({**valid_fixed(), "fixed": {**FusionWeights().__dict__, "face": -1}}), "negative"),
        (json.dumps({**valid_fixed(), "fixed": {"face": 1}}), "needs exactly"),
        (json.dumps({**valid_fixed(), "classes": ["Happy", "Sad"]}), "classes"),
        (
            json.dumps(
                {**valid_fixed(), "kind": "logistic", "logistic": {"features": ["x"], "weights": [], "bias": []}}
            ),
            "features",
        ),
        (
            json.dumps(
                {
                    **valid_fixed(),
                    "kind": "logistic",
                    "logistic": {"features": list(learned.FEATURES), "weights": [[0.0]], "bias": [0, 0, 0, 0]},
                }
            ),
            "must be 4 x",
        ),
    ],
)
def test_a_bad_weights_file_is_one_startup_error_line(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "w.json"
    path.write_text(content)
    with pytest.raises(StartupError, match=message) as caught:
        learned.load(path)
    assert "\n" not in str(caught.value) and str(path) in str(caught.value)
    with pytest.raises(StartupError, match="cannot read"):
        learned.load(tmp_path / "missing.json")


async def test_the_running_fusion_service_uses_the_weights_file(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS, tmp_path: Path
) -> None:
    """The same happy face over sad voice and words: Sad with the seed's weights, Happy with a fitted file
    that trusts the face (as tests/test_fusion.py's first test, which shows the seed's Sad)."""
    path = write_fixed(tmp_path / "w.json", FusionWeights(0.9, 0.05, 0.05, 0.7, 0.5, 0.7))
    emotions = {}
    variants: list[tuple[str, dict[str, Any]]] = [("seed", {}), ("fitted", {"weights_file": str(path)})]
    for name, settings in variants:
        sid, uid = f"fit{name}", new_id()
        fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
        now = time.time()
        async with fusion(own_nats_server, redis_server, live_interval_s=60, **settings):
            await send(
                own_nc,
                subjects.face_emotion(sid),
                FaceEmotion(session_id=sid, frame_seq=1, reading=HAPPY, quality=0.9, ts=now - 1),
            )
            transcript, voice, text = spoken(sid, uid, now - 2, now)
            for event, subject in (
                (voice, subjects.voice_emotion(sid)),
                (text, subjects.text_emotion(sid)),
                (transcript, subjects.transcript(sid)),
            ):
                await send(own_nc, subject, event)
            await turns_of(own_nc, sid, 1)
            await fused.wait_for(1)
        (result,) = [f for f in fused.items if f.utterance_id == uid]
        emotions[name] = (result.emotion, result.face.weight if result.face else None, result.masking)
    assert emotions["seed"] == ("Sad", pytest.approx(0.4), True)
    assert emotions["fitted"] == ("Happy", pytest.approx(0.9), True)


async def test_the_fusion_service_refuses_to_start_with_a_bad_weights_file(
    own_nats_server: NatsServer, redis_server: RedisServer, tmp_path: Path
) -> None:
    bad = tmp_path / "w.json"
    bad.write_text(json.dumps({"schema": learned.SCHEMA, "version": 9}))
    service = FusionService(
        FusionSettings(nats_url=own_nats_server.url, redis_url=redis_server.url, weights_file=str(bad))
    )
    try:
        with pytest.raises(StartupError, match="version 9"):
            await service.start()
    finally:
        await service.aclose()
