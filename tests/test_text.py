"""Text service: the documented rules, the lite backend on real sentences and held-out tweets, bad input."""

from __future__ import annotations

import numpy as np
import pytest
from nats.aio.client import Client as NATS

from mrrrme import emotions, subjects
from mrrrme.contracts import EMOTIONS, ErrorEvent, TextEmotion, Transcript, encode, new_id
from mrrrme.stack.infra import NatsServer
from services.text import rules
from services.text.backends.lite import LiteTextBackend
from services.text.lite_model import is_test, load_corpus
from services.text.service import TextService
from services.text.settings import TextSettings
from tests.mesh import inbox

FLAT = [0.4, 0.3, 0.2, 0.1]


def top(probabilities: list[float]) -> str:
    return EMOTIONS[int(np.argmax(probabilities))]


@pytest.mark.parametrize(
    "text, expected, rule",
    [
        ("I am so sad today", "Sad", "explicit:sad"),
        ("I'm furious about it", "Angry", "explicit:furious"),
        ("honestly, feeling down lately", "Sad", "explicit:down"),
        ("I feel really great!", "Happy", "explicit:great"),
    ],
)
def test_explicit_feeling_statements_win(text: str, expected: str, rule: str) -> None:
    adjusted, fired = rules.apply(text, FLAT)
    assert top(adjusted) == expected and rule in fired
    assert max(adjusted) >= rules.EXPLICIT_FLOOR - 1e-9


def test_the_explicit_rule_needs_a_first_person_marker_close_by() -> None:
    adjusted, fired = rules.apply("my boss was angry at the whole team", FLAT)
    assert not any(f.startswith("explicit") for f in fired) and adjusted == pytest.approx(FLAT)


@pytest.mark.parametrize(
    "text, moved_to",
    [
        ("I am not happy with this", "Sad"),
        ("I don't feel happy", "Sad"),
        ("I'm not angry, just tired", "Neutral"),
    ],
)
def test_negation_moves_the_negated_emotion(text: str, moved_to: str) -> None:
    happy_heavy = [0.2, 0.2, 0.2, 0.4] if "angry" in text else [0.2, 0.5, 0.2, 0.1]
    adjusted, fired = rules.apply(text, happy_heavy)
    assert any(f.startswith("negation") for f in fired)
    assert adjusted[EMOTIONS.index(moved_to)] > happy_heavy[EMOTIONS.index(moved_to)]
    assert not any(f.startswith("explicit") for f in fired)


def test_intensifiers_sharpen_the_distribution() -> None:
    plain, _ = rules.apply("that was a good film", [0.3, 0.5, 0.1, 0.1])
    intense, fired = rules.apply("that was a really good film", [0.3, 0.5, 0.1, 0.1])
    assert "intensifier:really" in fired
    assert intense[1] > plain[1]
    assert sum(intense) == pytest.approx(1.0)


@pytest.fixture(scope="module")
def lite() -> LiteTextBackend:
    return LiteTextBackend(TextSettings())


@pytest.mark.parametrize(
    "text, expected",
    [
        ("I love this, what a wonderful day with my friends", "Happy"),
        ("This is ridiculous, the worst service ever, I hate it", "Angry"),
        ("I miss her so much, everything feels empty and lonely", "Sad"),
        ("The meeting has been moved to three o'clock on Thursday", "Neutral"),
    ],
)
def test_lite_backend_reads_plain_sentences(lite: LiteTextBackend, text: str, expected: str) -> None:
    (scores,) = lite.classify([text])
    assert top(emotions.to_four(scores)) == expected


def test_lite_backend_beats_the_majority_baseline_on_held_out_tweets(lite: LiteTextBackend) -> None:
    """A quick sample of the held-out split (the full figure is in docs/benchmarks.md)."""
    texts, labels = load_corpus()
    held_out = [(t, y) for t, y in zip(texts, labels, strict=True) if is_test(t)][::19][:400]
    valence = {"Neutral": 0, "Happy": 1, "Sad": 2, "Angry": 2}
    predicted = []
    for start in range(0, len(held_out), 64):
        batch = [t for t, _ in held_out[start : start + 64]]
        predicted += [valence[top(emotions.to_four(s))] for s in lite.classify(batch)]
    accuracy = float(np.mean([p == y for p, (_, y) in zip(predicted, held_out, strict=True)]))
    assert accuracy > 0.6  # majority baseline: 0.42


async def test_service_answers_text_and_refuses_empty_or_huge_text(nats_server: NatsServer, nc: NATS) -> None:
    events = await inbox(nc, subjects.text_emotion("text1"), TextEmotion)
    errors = await inbox(nc, subjects.error("text1"), ErrorEvent)
    async with TextService(TextSettings(nats_url=nats_server.url, backend="lite")):
        for text in ("", "   ", "x" * 100_000, "I am so happy to see you!"):
            unit = Transcript(session_id="text1", utterance_id=new_id(), text=text)
            await nc.publish(subjects.transcript("text1"), encode(unit))
        await errors.wait_for(3)
        (event,) = await events.wait_for(1)
    assert sorted(e.code for e in errors.items) == ["empty_text", "empty_text", "text_too_long"]
    assert event.reading.emotion == "Happy"


def test_a_transcript_in_a_language_the_model_does_not_read_gets_no_reading(lite: LiteTextBackend) -> None:
    analyser = TextService(TextSettings(backend="lite"))
    analyser.backend = lite
    words = {"en": "I am so happy to see you!", "en-GB": "I am so happy to see you!", None: "I am so happy!",
             "de": "Ich bin so froh, dich zu sehen!"}  # fmt: skip
    results = analyser.process(
        [Transcript(session_id="t", utterance_id=new_id(), text=text, language=language) for language, text in
         words.items()]
    )  # fmt: skip
    readings = [r.reading for r in results if isinstance(r, TextEmotion)]
    assert [r.emotion if r else None for r in readings] == ["Happy", "Happy", "Happy", None]
    multilingual = TextService(TextSettings(backend="lite", languages="en, de"))
    multilingual.backend = lite
    (german,) = multilingual.process([Transcript(session_id="t", utterance_id=new_id(), text="froh", language="de")])
    assert isinstance(german, TextEmotion) and german.reading is not None
