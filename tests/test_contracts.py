"""The message contracts: every subject's schema round-trips, validates, and refuses other versions."""

from __future__ import annotations

import msgspec
import pytest

from mrrrme import contracts, subjects
from mrrrme.contracts import (
    ContractError,
    Control,
    EmotionReading,
    ErrorEvent,
    FaceEmotion,
    Frame,
    FusedEmotion,
    ModalityShare,
    Preferences,
    ReplyAudio,
    ReplySentence,
    TextEmotion,
    Transcript,
    Turn,
    Utterance,
    Viseme,
    VoiceEmotion,
    Word,
    decode,
    encode,
)

READING = EmotionReading(emotion="Happy", confidence=0.7, probabilities=[0.1, 0.7, 0.1, 0.1])

EXAMPLES: list[msgspec.Struct] = [
    Frame(session_id="s1", seq=3, jpeg=b"\xff\xd8jpeg\xff\xd9", width=320, height=240),
    Utterance(session_id="s1", utterance_id="u1", pcm=b"\x00\x01" * 8, started_at=1.0, ended_at=2.0, language="en"),
    FaceEmotion(session_id="s1", frame_seq=3, reading=READING, quality=0.8, box=(1, 2, 30, 40), faces=2),
    FaceEmotion(session_id="s1", frame_seq=4, reading=None),
    VoiceEmotion(session_id="s1", utterance_id="u1", reading=None, speech=False),
    Transcript(session_id="s1", utterance_id="u1", text="hello", words=[Word(word="hello", start=0.0, end=0.4)]),
    TextEmotion(session_id="s1", utterance_id="u1", reading=READING),
    FusedEmotion(
        session_id="s1",
        utterance_id="u1",
        emotion="Happy",
        intensity=0.6,
        probabilities=[0.1, 0.6, 0.2, 0.1],
        face=ModalityShare(reading=READING, weight=0.5, quality=0.9),
        conflict=True,
        evidence=["face vs voice"],
    ),
    Turn(session_id="s1", turn_id="t1", text="hello", preferences=Preferences(personality="coach")),
    ReplySentence(session_id="s1", turn_id="t1", index=0, text="Hi."),
    ReplyAudio(
        session_id="s1",
        turn_id="t1",
        index=0,
        text="Hi.",
        pcm=b"\x00\x00",
        sample_rate=22050,
        visemes=[Viseme(t=0.0, viseme="sil"), Viseme(t=0.05, viseme="aa", weight=0.8)],
    ),
    Control(session_id="s1", action="interrupt", turn_id="t1"),
    ErrorEvent(session_id="s1", source="face", code="corrupt_jpeg", message="not a JPEG"),
]


@pytest.mark.parametrize("message", EXAMPLES, ids=lambda m: type(m).__name__)
def test_every_contract_round_trips_through_msgpack(message: msgspec.Struct) -> None:
    data = encode(message)
    assert decode(data, type(message)) == message
    assert msgspec.msgpack.decode(data)["v"] == contracts.SCHEMA_VERSION


def test_wrong_type_is_refused_with_the_field_path() -> None:
    body = msgspec.msgpack.encode({"session_id": "s1", "seq": "three", "jpeg": b"", "width": 1, "height": 1})
    with pytest.raises(ContractError, match=r"Frame: .*\$\.seq"):
        decode(body, Frame)


def test_garbage_bytes_are_refused() -> None:
    with pytest.raises(ContractError):
        decode(b"\xc1\xff not msgpack", Frame)


def test_probabilities_must_be_four_values_in_range() -> None:
    bad = msgspec.msgpack.encode(
        {
            "session_id": "s1",
            "utterance_id": "u",
            "reading": {"emotion": "Happy", "confidence": 0.5, "probabilities": [0.5, 0.5]},
        }
    )
    with pytest.raises(ContractError, match="probabilities"):
        decode(bad, TextEmotion)


def test_unknown_schema_version_is_refused() -> None:
    body = msgspec.msgpack.encode({"v": 2, "session_id": "s1", "action": "end"})
    with pytest.raises(ContractError, match="version 2"):
        decode(body, Control)


def test_session_id_must_be_one_nats_token() -> None:
    with pytest.raises(ValueError):
        subjects.frame("a.b")
    with pytest.raises(ValueError):
        subjects.frame("*")
    body = msgspec.msgpack.encode({"session_id": "a.>", "action": "end"})
    with pytest.raises(ContractError):
        decode(body, Control)


def test_subjects_follow_the_map() -> None:
    assert subjects.frame("abc") == "mrrrme.frame.abc"
    assert subjects.face_emotion("abc") == "mrrrme.emotion.face.abc"
    assert subjects.turn("abc") == "mrrrme.turn.abc"
    assert subjects.reply_audio("abc") == "mrrrme.reply.audio.abc"
    assert subjects.session_of(subjects.fused_emotion("abc")) == "abc"
    assert "mrrrme.emotion.*.abc" in subjects.session_subjects("abc")


def test_reading_from_probabilities_normalises_and_picks_the_top_class() -> None:
    reading = contracts.reading_from_probabilities([1.0, 0.0, 3.0, 0.0])
    assert reading.emotion == "Sad"
    assert reading.confidence == pytest.approx(0.75)
    assert sum(reading.probabilities) == pytest.approx(1.0)
    with pytest.raises(ValueError):
        contracts.reading_from_probabilities([0.0, 0.0, 0.0, 0.0])
