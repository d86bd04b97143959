"""Every NATS subject, queue group and stream name of the mesh, in one place.

Services never format subject strings themselves: they call these functions, so the subject map in
docs/architecture.md and the code cannot drift apart. A session id is one NATS token, so it must not
contain dots, spaces or wildcards (`check_session_id`).
"""

from __future__ import annotations

import re

PREFIX = "mrrrme"

_SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")

# Queue groups: every replica of a service joins its group so that each unit goes to one replica.
FACE_QUEUE = "face"
VOICE_QUEUE = "voice"
ASR_QUEUE = "asr"
TEXT_QUEUE = "text"
FUSION_QUEUE = "fusion"
DIALOGUE_QUEUE = "dialogue"

# JetStream: durable work (turns) travels on a file-backed work-queue stream; raw media never does.
TURN_STREAM = "MRRRME_TURNS"
DEAD_LETTER_STREAM = "MRRRME_DEAD_LETTERS"
RECORD_STREAM = "MRRRME_RECORDS"
REPLY_STREAM = "MRRRME_REPLIES"
"""Reply sentences (text), dialogue -> tts: a work queue, msg-id `<turn>:<index>`."""
REPLY_AUDIO_STREAM = "MRRRME_REPLY_AUDIO"
"""Reply speech, tts -> the gateway holding the session: a work queue, consumed per session, kept 2 minutes."""

PER_SESSION_KINDS = frozenset(
    {
        "frame", "utterance", "utterance.early", "emotion.face", "emotion.voice", "emotion.text", "emotion.fused",
        "transcript", "turn", "reply.text", "reply.audio", "control", "error", "record.turn", "record.end",
    }
)  # fmt: skip
"""The subject families whose last token is a session id (every function below that takes one)."""


def check_session_id(session_id: str) -> str:
    """Return the id unchanged, or raise ValueError when it cannot be a single NATS token."""
    if not _SESSION_ID.match(session_id):
        raise ValueError(f"invalid session id {session_id!r}: 1-64 characters of [A-Za-z0-9_-]")
    return session_id


def _subject(*tokens: str) -> str:
    return ".".join((PREFIX, *tokens))


def frame(session_id: str) -> str:
    """JPEG camera frames, gateway -> face (core NATS, perishable)."""
    return _subject("frame", check_session_id(session_id))


def utterance(session_id: str) -> str:
    """One VAD-cut utterance of PCM16 audio, gateway -> asr and voice."""
    return _subject("utterance", check_session_id(session_id))


def early_utterance(session_id: str) -> str:
    """Request-reply, gateway -> asr (queue group "asr"): the audio so far when a silence begins, recognised
    while the end of the turn is decided; the `Transcript` goes back to the gateway alone."""
    return _subject("utterance", "early", check_session_id(session_id))


def face_emotion(session_id: str) -> str:
    return _subject("emotion", "face", check_session_id(session_id))


def voice_emotion(session_id: str) -> str:
    return _subject("emotion", "voice", check_session_id(session_id))


def text_emotion(session_id: str) -> str:
    return _subject("emotion", "text", check_session_id(session_id))


def fused_emotion(session_id: str) -> str:
    return _subject("emotion", "fused", check_session_id(session_id))


def transcript(session_id: str) -> str:
    return _subject("transcript", check_session_id(session_id))


def turn(session_id: str) -> str:
    """A finished user turn, fusion (or gateway, for greetings) -> dialogue, on JetStream."""
    return _subject("turn", check_session_id(session_id))


def reply_text(session_id: str) -> str:
    """Reply sentences, dialogue -> tts (durable, `REPLY_STREAM`)."""
    return _subject("reply", "text", check_session_id(session_id))


def reply_audio(session_id: str) -> str:
    """Reply speech, tts -> gateway (durable, `REPLY_AUDIO_STREAM`)."""
    return _subject("reply", "audio", check_session_id(session_id))


def control(session_id: str) -> str:
    """Interrupt, preferences and end-of-session, gateway -> every service."""
    return _subject("control", check_session_id(session_id))


def error(session_id: str) -> str:
    """Errors about a message a session sent, service -> gateway -> that session's client."""
    return _subject("error", check_session_id(session_id))


def turn_record(session_id: str) -> str:
    """A finished turn for the database, dialogue -> memory (durable, MRRRME_RECORDS)."""
    return _subject("record", "turn", check_session_id(session_id))


def session_ended(session_id: str) -> str:
    """A client session closed, gateway -> memory (durable, MRRRME_RECORDS): write its summary."""
    return _subject("record", "end", check_session_id(session_id))


SUMMARIZE = _subject("dialogue", "summarize")
"""Request-reply, memory -> dialogue (queue group "dialogue"): a per-user summary of a conversation."""

ACCOUNT_EVENTS = _subject("account", "events")
"""Logout, deletion and consent changes, gateway -> every gateway replica (no queue group)."""


def dead_letter(stream: str) -> str:
    """Where a durable message goes after its last failed delivery."""
    return _subject("dlq", stream.lower())


# Every-session patterns that workers subscribe to (with their queue group).
ALL_FRAMES = _subject("frame", "*")
ALL_UTTERANCES = _subject("utterance", "*")
ALL_EARLY_UTTERANCES = _subject("utterance", "early", "*")
ALL_TRANSCRIPTS = _subject("transcript", "*")
ALL_FACE_EMOTIONS = _subject("emotion", "face", "*")
ALL_VOICE_EMOTIONS = _subject("emotion", "voice", "*")
ALL_TEXT_EMOTIONS = _subject("emotion", "text", "*")
ALL_TURNS = _subject("turn", "*")
ALL_REPLY_TEXT = _subject("reply", "text", "*")
ALL_REPLY_AUDIO = _subject("reply", "audio", "*")
ALL_CONTROL = _subject("control", "*")
ALL_DEAD_LETTERS = _subject("dlq", "*")
ALL_RECORDS = _subject("record", "*", "*")
ALL_TURN_RECORDS = _subject("record", "turn", "*")
ALL_SESSION_ENDS = _subject("record", "end", "*")

# Health: every replica answers a ping (no queue group) so the gateway sees each one.
HEALTH_PING = _subject("health", "ping")


def session_subjects(session_id: str) -> list[str]:
    """What a gateway subscribes to (core NATS) for one of its sessions: every event meant for that client
    but the reply audio, which it takes from `REPLY_AUDIO_STREAM` (gateway/replies.py)."""
    sid = check_session_id(session_id)
    return [
        _subject("emotion", "*", sid),
        transcript(sid),
        error(sid),
    ]


def kind(subject: str) -> str:
    """A subject's family without its session id, a bounded label for metrics and logs:
    `mrrrme.emotion.face.<sid>` and `mrrrme.emotion.face.*` -> `emotion.face`; a subject of no session
    keeps all its tokens (`mrrrme.dialogue.summarize` -> `dialogue.summarize`)."""
    tokens = subject.split(".")
    if tokens[0] == PREFIX:
        tokens = tokens[1:]
    family = ".".join(tokens[:-1])
    return family if family in PER_SESSION_KINDS else ".".join(tokens)


def session_of(subject: str) -> str:
    """The session id of a per-session subject (its last token); "" for a subject of no session."""
    tokens = subject.split(".")
    if tokens[0] == PREFIX and ".".join(tokens[1:-1]) in PER_SESSION_KINDS and tokens[-1] not in ("*", ">"):
        return tokens[-1]
    return ""
