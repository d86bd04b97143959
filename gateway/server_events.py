"""The server -> client events of /ws (docs/protocol.md, *Server -> client*) as tagged msgspec classes.

The one source of their shape: the gateway sends only these, and web/src/protocol.ts is generated from
them (`make protocol`, gateway/protocol_ts.py; a test fails when the committed file differs). Every class
is tagged by `type`; a field that is `msgspec.UNSET` is left out of the JSON (`?` in TypeScript).
"""

from __future__ import annotations

from typing import Literal

import msgspec

from mrrrme.contracts import Emotion, Personality, Style, Voice


class Event(msgspec.Struct, tag_field="type", kw_only=True):
    """Base of every server event: `type` is the class's tag."""


class Devices(msgspec.Struct, kw_only=True):
    camera: bool
    microphone: bool


class Limits(msgspec.Struct, kw_only=True):
    max_frame_bytes: int
    max_audio_chunk_bytes: int
    max_control_bytes: int
    video_fps: float
    audio_chunks_per_s: float
    idle_timeout_s: float


class Ready(Event, tag="ready"):
    """Authenticated: the session's id, the consent on record and the limits that apply."""

    session_id: str
    username: str
    consent: Devices
    limits: Limits


class FaceEmotion(Event, tag="face_emotion"):
    emotion: Emotion | None
    """null when no face was found."""
    confidence: float
    probabilities: list[float] | None
    """Neutral, Happy, Sad, Angry."""
    quality: float
    box: tuple[int, int, int, int] | None
    """x, y, w, h"""
    faces: int
    frame_seq: int
    ts: float


class VoiceEmotion(Event, tag="voice_emotion"):
    emotion: Emotion | None
    """null when the utterance held no speech."""
    confidence: float
    probabilities: list[float] | None
    speech: bool
    utterance_id: str
    ts: float


class TextEmotion(Event, tag="text_emotion"):
    emotion: Emotion | None
    confidence: float
    probabilities: list[float] | None
    utterance_id: str
    ts: float


class Share(msgspec.Struct, kw_only=True):
    """One modality's part in a fused estimate."""

    emotion: Emotion | None
    confidence: float
    probabilities: list[float] | None
    weight: float
    quality: float | None


class Modalities(msgspec.Struct, kw_only=True):
    face: Share | None
    voice: Share | None
    text: Share | None


class FusedEmotion(Event, tag="fused_emotion"):
    emotion: Emotion
    intensity: float
    probabilities: list[float]
    """Neutral, Happy, Sad, Angry: the probability of `emotion` is how confident the fusion is."""
    live: bool
    """true for the face-only estimate between turns."""
    utterance_id: str | None
    modalities: Modalities
    conflict: bool
    masking: bool
    evidence: list[str]
    ts: float


class Word(msgspec.Struct, kw_only=True):
    word: str
    start: float
    end: float


class Transcript(Event, tag="transcript"):
    text: str
    language: str | None
    utterance_id: str
    source: Literal["asr", "typed"]
    words: list[Word]
    ts: float


class Viseme(msgspec.Struct, kw_only=True):
    t: float
    """Seconds from the start of the sentence's audio."""
    viseme: str
    weight: float
    blend: dict[str, float] | msgspec.UnsetType = msgspec.UNSET
    """The same mouth as ARKit blendshape weights, for the seed's client (gateway/seed.py)."""


class LlmResponse(Event, tag="llm_response"):
    """One reply sentence, with its audio and lip-sync track."""

    text: str
    emotion: Emotion
    intensity: float
    audio: str
    """base64 of a WAV file."""
    audio_format: Literal["wav"]
    duration: float
    """Seconds of audio."""
    visemes: list[Viseme]
    turn_id: str
    index: int
    final: bool
    synthetic: bool
    """Always true: AI-generated."""
    audio_url: str | msgspec.UnsetType | None = msgspec.UNSET
    """The same WAV at a short-lived capability URL, for the seed's client (gateway/reply_audio.py);
    null when it could not be kept."""


class Interrupt(Event, tag="interrupt"):
    """The user started speaking over that reply: stop playback now; no more of it will come."""

    turn_id: str


class PreferencesNow(Event, tag="preferences"):
    """The session's preferences after an update."""

    voice: Voice
    language: str
    personality: Personality
    style: Style


class ConsentNow(Event, tag="consent"):
    """The consent now in force (after `PUT /api/consent` from any tab)."""

    camera: bool
    microphone: bool


class Pong(Event, tag="pong"):
    pass


class Error(Event, tag="error"):
    code: str
    message: str
    """For the person."""
    source: str
    """`gateway`, or the service that refused a unit."""
    ref: str | msgspec.UnsetType | None = msgspec.UNSET
    """From a service: the id of the message it refused, when known."""
    refused_since: int | msgspec.UnsetType = msgspec.UNSET
    """From the gateway: refused messages since the previous notice that got no notice of their own."""


ServerEvent = (
    Ready
    | FaceEmotion
    | VoiceEmotion
    | TextEmotion
    | FusedEmotion
    | Transcript
    | LlmResponse
    | Interrupt
    | PreferencesNow
    | ConsentNow
    | Pong
    | Error
)
SERVER_EVENTS: tuple[type[Event], ...] = (
    Ready,
    FaceEmotion,
    VoiceEmotion,
    TextEmotion,
    FusedEmotion,
    Transcript,
    LlmResponse,
    Interrupt,
    PreferencesNow,
    ConsentNow,
    Pong,
    Error,
)

_encoder = msgspec.json.Encoder()


def kind(event: Event) -> str:
    """The event's `type` (its tag): the label of the events metric."""
    return str(event.__struct_config__.tag)


def encode(event: Event) -> str:
    return _encoder.encode(event).decode()
