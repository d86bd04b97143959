"""The mesh's message contracts: one typed, versioned schema per subject, MessagePack on the wire.

Why msgspec: a Struct encodes to MessagePack natively and *validates on decode*, so a worker that gets
a body with a wrong type or a missing field gets a `ContractError` with the path to the bad field
instead of a half-built object. Every message carries `v`, the schema version; a receiver refuses a
version it does not know instead of guessing.

Routing metadata (session id, message id, trace context) travels in NATS headers (see `mrrrme.runtime.tracing`),
but the session id is also in the body so that a stored or replayed message stays self-describing.
"""

from __future__ import annotations

import time
import uuid
from typing import Annotated, Literal, TypeVar

import msgspec

SCHEMA_VERSION = 1

EMOTIONS: tuple[str, ...] = ("Neutral", "Happy", "Sad", "Angry")
"""The four classes every modality reports, in this order in every `probabilities` list."""

Emotion = Literal["Neutral", "Happy", "Sad", "Angry"]
Probability = Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
Probabilities = Annotated[list[Probability], msgspec.Meta(min_length=4, max_length=4)]
SessionId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{1,64}$")]

Personality = Literal["therapist", "coach"]
Style = Literal["brief", "balanced", "detailed"]
Voice = Literal["female", "male"]


def new_id() -> str:
    """A random 128-bit id in hex: message ids, utterance ids, turn ids, session ids."""
    return uuid.uuid4().hex


def now() -> float:
    """Wall-clock seconds since the epoch: timestamps that cross processes."""
    return time.time()


class Message(msgspec.Struct, kw_only=True, frozen=True):
    """Base of every message on the mesh."""

    v: int = SCHEMA_VERSION
    session_id: SessionId
    ts: float = msgspec.field(default_factory=now)


# --- media, gateway -> workers ------------------------------------------------------------------


class Frame(Message, kw_only=True, frozen=True):
    """One camera frame as JPEG (never raw pixels); `ts` is when the gateway received it."""

    seq: int
    jpeg: bytes
    width: int
    height: int


class Utterance(Message, kw_only=True, frozen=True):
    """One VAD-cut stretch of speech: PCM16 little-endian mono. Capped (30 s) well under max_payload."""

    utterance_id: str
    pcm: bytes
    sample_rate: int = 16000
    started_at: float
    ended_at: float
    language: str | None = None
    """The session's preferred language; None lets the recogniser detect it."""
    early: Transcript | None = None
    """The gateway's early (speculative) transcript of exactly this audio, recognised while the end of the
    turn was decided: asr publishes it instead of recognising the audio again."""


# --- perception events ----------------------------------------------------------------------------


class EmotionReading(msgspec.Struct, kw_only=True, frozen=True):
    """What one modality says: the top class, its probability and the whole 4-class distribution."""

    emotion: Emotion
    confidence: Probability
    probabilities: Probabilities


class FaceEmotion(Message, kw_only=True, frozen=True):
    frame_seq: int
    reading: EmotionReading | None
    """None when no face was found in the frame."""
    quality: Probability = 0.0
    box: tuple[int, int, int, int] | None = None
    """x, y, width, height of the analysed (largest) face in frame pixels."""
    faces: int = 0
    pose: tuple[float, float] | None = None
    """Head yaw and pitch in degrees, from the face landmarks (None without them)."""
    smile: Probability | None = None
    """Mouth corners raised and the mouth widened (an approximation of facial action unit 12), 0..1."""
    duchenne: Probability | None = None
    """The smile with the eyes narrowed too (AU6 + AU12, the geometry of a felt smile), 0..1: an
    approximation from landmark geometry, not a facial action coder."""


class VoiceEmotion(Message, kw_only=True, frozen=True):
    utterance_id: str
    reading: EmotionReading | None
    """None when the utterance holds no speech: flagged, not classified."""
    speech: bool = True
    started_at: float | None = None
    ended_at: float | None = None
    """The utterance's span (wall clock), so fusion can pick the faces seen while it was spoken."""


class Word(msgspec.Struct, kw_only=True, frozen=True):
    word: str
    start: float
    end: float
    probability: Probability | None = None


class Transcript(Message, kw_only=True, frozen=True):
    utterance_id: str
    text: str
    language: str | None = None
    no_speech_prob: Probability = 0.0
    words: list[Word] = msgspec.field(default_factory=list)
    source: Literal["asr", "typed"] = "asr"
    """`typed` when the user wrote the text (text-only mode) instead of speaking it."""
    started_at: float | None = None
    ended_at: float | None = None
    """The utterance's span (wall clock); None for typed text."""


class TextEmotion(Message, kw_only=True, frozen=True):
    utterance_id: str
    reading: EmotionReading | None
    """None when the transcript is in a language the text model does not read."""


class ModalityShare(msgspec.Struct, kw_only=True, frozen=True):
    """One modality's part in a fused estimate: what it said and how much it weighed."""

    reading: EmotionReading | None
    weight: Annotated[float, msgspec.Meta(ge=0.0, le=1.0)]
    quality: Probability | None = None


class FusedEmotion(Message, kw_only=True, frozen=True):
    utterance_id: str | None
    """None for the live, face-only estimate between turns."""
    emotion: Emotion
    intensity: Probability
    probabilities: Probabilities
    face: ModalityShare | None = None
    voice: ModalityShare | None = None
    text: ModalityShare | None = None
    conflict: bool = False
    masking: bool = False
    evidence: list[str] = msgspec.field(default_factory=list)


# --- the conversation -----------------------------------------------------------------------------


class Preferences(msgspec.Struct, kw_only=True, frozen=True):
    voice: Voice = "female"
    language: Annotated[str, msgspec.Meta(pattern=r"^[a-z]{2}(-[A-Za-z]{2})?$")] = "en"
    personality: Personality = "therapist"
    style: Style = "balanced"


class Turn(Message, kw_only=True, frozen=True):
    """A finished user turn (or a greeting request) for dialogue: durable, on JetStream."""

    turn_id: str
    kind: Literal["user", "greeting"] = "user"
    text: str = ""
    utterance_id: str | None = None
    fused: FusedEmotion | None = None
    preferences: Preferences = msgspec.field(default_factory=Preferences)


class ReplySentence(Message, kw_only=True, frozen=True):
    """One sentence of the assistant's reply, streamed as the model produces it."""

    turn_id: str
    index: int
    text: str
    emotion: Emotion = "Neutral"
    intensity: Probability = 0.5
    final: bool = False
    voice: Voice = "female"
    language: str = "en"


class Viseme(msgspec.Struct, kw_only=True, frozen=True, array_like=True):
    """One mouth shape of the Oculus 15 set starting at `t` seconds into its audio chunk."""

    t: float
    viseme: Literal["sil", "PP", "FF", "TH", "DD", "kk", "CH", "SS", "nn", "RR", "aa", "E", "I", "O", "U"]
    weight: Probability = 1.0


class ReplyAudio(Message, kw_only=True, frozen=True):
    """Speech for one reply sentence plus its viseme track; always marked AI-generated."""

    turn_id: str
    index: int
    text: str
    pcm: bytes
    sample_rate: int
    visemes: list[Viseme]
    emotion: Emotion = "Neutral"
    intensity: Probability = 0.5
    final: bool = False
    synthetic: Literal[True] = True


class Control(Message, kw_only=True, frozen=True):
    """Session-wide commands that every service may act on."""

    action: Literal["interrupt", "preferences", "end"]
    turn_id: str | None = None
    preferences: Preferences | None = None


class ErrorEvent(Message, kw_only=True, frozen=True):
    """A unit could not be handled: said to the session that sent it, never swallowed."""

    source: str
    """The service (or gateway) that refused the unit."""
    code: str
    """Stable machine-readable reason, e.g. `bad_message`, `corrupt_jpeg`, `internal`."""
    message: str
    """Human-readable, safe to show the user: never contains the unit's payload."""
    ref: str | None = None
    """The message id of the refused unit, when it had one."""


# --- memory: the system of record ------------------------------------------------------------------


class TurnRecord(Message, kw_only=True, frozen=True):
    """A finished turn for the database: text and emotions only, never media. Durable (msg-id = turn id)."""

    turn_id: str
    kind: Literal["user", "greeting"] = "user"
    user_text: str = ""
    fused: FusedEmotion | None = None
    reply: str = ""
    reply_emotion: Emotion = "Neutral"
    reply_intensity: Probability = 0.5
    interrupted: bool = False


class SessionEnded(Message, kw_only=True, frozen=True):
    """A client session closed (logout, disconnect, shutdown): time to write its summary. Durable."""


class SummaryRequest(Message, kw_only=True, frozen=True):
    """Ask dialogue for a short per-user summary of a conversation (request-reply)."""

    previous: str = ""
    """The summary so far, itself data to fold in, never instructions."""
    lines: list[tuple[Literal["user", "assistant"], str]]
    emotions: list[Emotion] = msgspec.field(default_factory=list)
    """The fused emotion of each user turn."""
    masked: int = 0
    """How many of those turns had the masking flag (a happy face over sad or angry voice or words)."""
    language: str = "en"


class SummaryReply(Message, kw_only=True, frozen=True):
    text: str


class AccountEvent(msgspec.Struct, kw_only=True, frozen=True):
    """Something happened to an account that live sockets on every gateway replica must act on now."""

    v: int = SCHEMA_VERSION
    user_id: str
    action: Literal["logout", "deleted", "consent"]
    login_id: str | None = None
    """For logout: only sockets opened with that login close."""
    camera: bool = False
    microphone: bool = False
    """For consent: the modalities now consented to."""


class HealthReport(msgspec.Struct, kw_only=True, frozen=True):
    """A replica's answer to a health ping."""

    service: str
    instance: str
    ready: bool
    detail: str = ""
    backend: str = ""
    started_at: float = 0.0


# --- encoding -------------------------------------------------------------------------------------

T = TypeVar("T", bound=msgspec.Struct)


class ContractError(ValueError):
    """A body that does not match its subject's schema (or an unknown schema version)."""


_encoder = msgspec.msgpack.Encoder()
_decoders: dict[type[msgspec.Struct], msgspec.msgpack.Decoder[msgspec.Struct]] = {}


def encode(message: msgspec.Struct) -> bytes:
    return _encoder.encode(message)


def decode(data: bytes, schema: type[T]) -> T:
    """Decode and validate `data` as `schema`, or raise ContractError saying what is wrong."""
    decoder = _decoders.get(schema)
    if decoder is None:
        decoder = _decoders[schema] = msgspec.msgpack.Decoder(schema)
    try:
        message = decoder.decode(data)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ContractError(f"{schema.__name__}: {exc}") from None
    version = getattr(message, "v", SCHEMA_VERSION)
    if version != SCHEMA_VERSION:
        raise ContractError(f"{schema.__name__}: schema version {version} is not {SCHEMA_VERSION}")
    return message  # type: ignore[return-value]


def reading_from_probabilities(probabilities: list[float]) -> EmotionReading:
    """The 4-class reading whose top class is the most probable one (ties go to the earlier class)."""
    if len(probabilities) != len(EMOTIONS):
        raise ValueError(f"expected {len(EMOTIONS)} probabilities, got {len(probabilities)}")
    total = sum(probabilities)
    if not total > 0:
        raise ValueError("probabilities must have a positive sum")
    # Clamped: float rounding can push a normalised 0.9999... to 1.0000000000000002, which the
    # receiver's validation (0 <= p <= 1) would refuse.
    normalised = [min(1.0, max(0.0, p / total)) for p in probabilities]
    best = max(range(len(EMOTIONS)), key=normalised.__getitem__)
    return EmotionReading(
        emotion=EMOTIONS[best],  # type: ignore[arg-type]
        confidence=normalised[best],
        probabilities=normalised,
    )
