"""The client protocol of /ws (docs/protocol.md): JSON control messages and binary media frames.

Client -> server JSON messages are tagged by `type`. Media may also come as binary WebSocket frames
with a 16-byte header (`BINARY_HEADER`), the efficient form: no base64, no JSON.
"""

from __future__ import annotations

import re
import struct
from typing import Any, Literal

import msgspec

from mrrrme.contracts import Personality, Style, Voice

# Close codes (docs/protocol.md, Close codes).
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_NOT_UTF8 = 1007
CLOSE_POLICY = 1008
CLOSE_TOO_BIG = 1009
CLOSE_TRY_LATER = 1013
CLOSE_AUTH = 4001
"""Application code: not authenticated (missing, invalid or late credentials)."""
CLOSE_TOO_MANY_SOCKETS = 4029
"""Application code: the account already has `max_sockets_per_user` sockets open; this new one is refused
(the open ones keep working: closing the oldest instead would let two tabs that reconnect on close
push each other out forever)."""


class ProtocolError(Exception):
    """A client message we refuse; `code` and `message` go back to the client in an `error` event."""

    def __init__(self, code: str, message: str, close_code: int | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.close_code = close_code


class Auth(msgspec.Struct, tag="auth", tag_field="type", forbid_unknown_fields=True):
    token: str


class VideoFrame(msgspec.Struct, tag="video_frame", tag_field="type", forbid_unknown_fields=True):
    frame: str
    """`data:image/jpeg;base64,...`"""


class AudioChunk(msgspec.Struct, tag="audio_chunk", tag_field="type", forbid_unknown_fields=True):
    audio: str
    """base64 of PCM16 little-endian mono at 16 kHz."""


class SpeechEnd(msgspec.Struct, tag="speech_end", tag_field="type", forbid_unknown_fields=True):
    text: str | None = None
    """Typed text (text-only mode): goes to the mesh as a transcript."""


class PreferencesUpdate(msgspec.Struct, tag="preferences", tag_field="type", forbid_unknown_fields=True):
    voice: Voice | None = None
    language: str | None = None
    personality: Personality | None = None
    style: Style | None = None


class RequestGreeting(msgspec.Struct, tag="request_greeting", tag_field="type", forbid_unknown_fields=True):
    pass


class Ping(msgspec.Struct, tag="ping", tag_field="type", forbid_unknown_fields=True):
    pass


ClientMessage = Auth | VideoFrame | AudioChunk | SpeechEnd | PreferencesUpdate | RequestGreeting | Ping
CLIENT_TYPES: dict[str, type[Any]] = {
    str(cls.__struct_config__.tag): cls
    for cls in (Auth, VideoFrame, AudioChunk, SpeechEnd, PreferencesUpdate, RequestGreeting, Ping)
}


MAX_JSON_DEPTH = 8
"""Every client message is one flat object (depth 1); nothing honest comes near this. msgspec's decoder
recurses per level, so ~2 KB of `[[[[...` would otherwise end in RecursionError."""


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_INNERMOST = re.compile(r"\[\]|\{\}")
_OPENERS = re.compile(r"[\[{]+")


def nested_deeper_than(text: str, limit: int) -> bool:
    """Whether arrays and objects in `text` nest more than `limit` deep (brackets in strings do not count).

    Every step runs at C speed (a Python loop over 64 KiB of brackets costs milliseconds a message):
    strings out, everything but brackets out, then `limit` passes that each remove the innermost pairs.
    What is left when no pair can be removed is unclosed or mismatched: deep runs of openers count."""
    if text.count("[") + text.count("{") <= limit:
        return False  # fast path: no base64 frame or honest message has more brackets than that
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    for level in range(limit):
        brackets, removed = _INNERMOST.subn("", brackets)
        if not brackets:
            return False
        if not removed:
            # Unclosed or mismatched: the decoder would still descend through each run of openers.
            return level + max(map(len, _OPENERS.findall(brackets)), default=0) > limit
    return True


def parse_client_message(text: str) -> ClientMessage:
    """Parse one JSON message, or raise ProtocolError with a reason the client can act on.

    The caller has already bounded the size; the depth is bounded here, before the decoder sees it."""
    if nested_deeper_than(text, MAX_JSON_DEPTH):
        raise ProtocolError("too_deep", f"JSON nested deeper than {MAX_JSON_DEPTH} levels; messages are flat objects")
    try:
        raw = msgspec.json.decode(text)
    except msgspec.DecodeError as exc:
        raise ProtocolError("malformed_json", f"message is not valid JSON: {exc}") from None
    except RecursionError:  # the depth scan above should make this unreachable; never a traceback anyway
        raise ProtocolError("too_deep", "JSON nested too deeply") from None
    if not isinstance(raw, dict):
        raise ProtocolError("invalid_message", "message must be a JSON object with a 'type' field")
    kind = raw.get("type")
    cls = CLIENT_TYPES.get(kind) if isinstance(kind, str) else None
    if cls is None:
        known = ", ".join(sorted(CLIENT_TYPES))
        raise ProtocolError("unknown_type", f"unknown message type {str(kind)[:40]!r}; expected one of: {known}")
    try:
        return msgspec.convert(raw, cls)  # type: ignore[no-any-return]
    except msgspec.ValidationError as exc:
        raise ProtocolError("invalid_message", f"{kind}: {exc}") from None


# --- binary media frames --------------------------------------------------------------------------

BINARY_HEADER = struct.Struct("<2sBBIQ")
"""magic b"MR", version (1), kind (1 video JPEG, 2 audio PCM16), sequence number, client time in ms."""
BINARY_MAGIC = b"MR"
BINARY_VERSION = 1
KIND_VIDEO = 1
KIND_AUDIO = 2


def pack_binary(kind: int, seq: int, client_ms: int, payload: bytes) -> bytes:
    return BINARY_HEADER.pack(BINARY_MAGIC, BINARY_VERSION, kind, seq & 0xFFFFFFFF, client_ms) + payload


def unpack_binary(data: bytes) -> tuple[Literal["video_frame", "audio_chunk"], int, bytes]:
    if len(data) < BINARY_HEADER.size:
        raise ProtocolError("invalid_binary", f"binary frame shorter than its {BINARY_HEADER.size}-byte header")
    magic, version, kind, seq, _client_ms = BINARY_HEADER.unpack_from(data)
    if magic != BINARY_MAGIC or version != BINARY_VERSION:
        raise ProtocolError("invalid_binary", "binary frame must start with b'MR' and version 1")
    if kind == KIND_VIDEO:
        return "video_frame", seq, data[BINARY_HEADER.size :]
    if kind == KIND_AUDIO:
        return "audio_chunk", seq, data[BINARY_HEADER.size :]
    raise ProtocolError("invalid_binary", f"unknown binary kind {kind}: 1 is a JPEG frame, 2 is PCM16 audio")
