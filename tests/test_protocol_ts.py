"""web/src/protocol.ts is generated from the gateway's msgspec classes, and the two say the same."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest

from gateway import protocol, protocol_ts, server_events
from gateway.events import to_client
from mrrrme.contracts import EmotionReading, ErrorEvent, FaceEmotion, encode

PROTOCOL_TS = Path(__file__).resolve().parent.parent / "web" / "src" / "protocol.ts"


def test_the_committed_protocol_ts_is_the_generated_one() -> None:
    assert PROTOCOL_TS.read_text() == protocol_ts.render(), "run `make protocol` to regenerate web/src/protocol.ts"


def test_every_server_event_and_client_message_has_a_typescript_type() -> None:
    text = protocol_ts.render()
    for cls in (*server_events.SERVER_EVENTS, *protocol.CLIENT_TYPES.values()):
        tag = cls.__struct_config__.tag
        assert f'  type: "{tag}";' in text, tag
    assert len({cls.__struct_config__.tag for cls in server_events.SERVER_EVENTS}) == len(server_events.SERVER_EVENTS)


def test_an_unset_field_is_left_out_and_optional_in_typescript() -> None:
    """A service's error carries `ref` (null when unknown); a gateway notice carries `refused_since` instead."""
    service = to_client("error", encode(ErrorEvent(session_id="s1", source="face", code="bad", message="m")))
    assert msgspec.json.decode(server_events.encode(service)) == {
        "type": "error",
        "code": "bad",
        "message": "m",
        "source": "face",
        "ref": None,
    }
    notice = server_events.Error(code="too_big", message="m", source="gateway", refused_since=2)
    assert "ref" not in msgspec.json.decode(server_events.encode(notice))
    assert "  ref?: string | null;" in protocol_ts.render()


def test_events_decode_as_their_class() -> None:
    """What the gateway encodes decodes back into the tagged union the TypeScript types describe."""
    reading = EmotionReading(emotion="Happy", confidence=0.9, probabilities=[0.05, 0.9, 0.03, 0.02])
    event = to_client("emotion.face", encode(FaceEmotion(session_id="s1", frame_seq=3, reading=reading, faces=1)))
    back = msgspec.json.decode(server_events.encode(event), type=server_events.ServerEvent)
    assert back == event and server_events.kind(back) == "face_emotion"


def test_a_type_the_generator_does_not_know_is_a_clear_error() -> None:
    with pytest.raises(TypeError, match="no TypeScript type"):
        protocol_ts.Generator().type_of(msgspec.inspect.type_info(bytes))
