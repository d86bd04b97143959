"""Mesh events -> the client protocol's server messages (docs/protocol.md)."""

from __future__ import annotations

import base64
import io
import wave
from typing import Any

from mrrrme.contracts import (
    EmotionReading,
    ErrorEvent,
    FaceEmotion,
    FusedEmotion,
    ModalityShare,
    ReplyAudio,
    TextEmotion,
    Transcript,
    VoiceEmotion,
    decode,
)

CRITICAL = frozenset({"llm_response", "error", "interrupt", "transcript"})
"""Never dropped for a slow client: if one cannot be queued the socket is closed (1013) instead."""


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _reading(reading: EmotionReading | None) -> dict[str, Any]:
    if reading is None:
        return {"emotion": None, "confidence": 0.0, "probabilities": None}
    return {
        "emotion": reading.emotion,
        "confidence": reading.confidence,
        "probabilities": reading.probabilities,
    }


def _share(share: ModalityShare | None) -> dict[str, Any] | None:
    if share is None:
        return None
    return {**_reading(share.reading), "weight": share.weight, "quality": share.quality}


def to_client(kind: str, data: bytes) -> dict[str, Any]:
    """Translate one event body, by its subject kind, into the client's JSON message."""
    if kind == "emotion.face":
        face = decode(data, FaceEmotion)
        return {
            "type": "face_emotion",
            **_reading(face.reading),
            "quality": face.quality,
            "box": face.box,
            "faces": face.faces,
            "frame_seq": face.frame_seq,
            "ts": face.ts,
        }
    if kind == "emotion.voice":
        voice = decode(data, VoiceEmotion)
        return {
            "type": "voice_emotion",
            **_reading(voice.reading),
            "speech": voice.speech,
            "utterance_id": voice.utterance_id,
            "ts": voice.ts,
        }
    if kind == "emotion.text":
        text = decode(data, TextEmotion)
        return {
            "type": "text_emotion",
            **_reading(text.reading),
            "utterance_id": text.utterance_id,
            "ts": text.ts,
        }
    if kind == "emotion.fused":
        fused = decode(data, FusedEmotion)
        return {
            "type": "fused_emotion",
            "emotion": fused.emotion,
            "intensity": fused.intensity,
            "probabilities": fused.probabilities,
            "live": fused.utterance_id is None,
            "utterance_id": fused.utterance_id,
            "modalities": {
                "face": _share(fused.face),
                "voice": _share(fused.voice),
                "text": _share(fused.text),
            },
            "conflict": fused.conflict,
            "masking": fused.masking,
            "evidence": fused.evidence,
            "ts": fused.ts,
        }
    if kind == "transcript":
        transcript = decode(data, Transcript)
        return {
            "type": "transcript",
            "text": transcript.text,
            "language": transcript.language,
            "utterance_id": transcript.utterance_id,
            "source": transcript.source,
            "words": [{"word": w.word, "start": w.start, "end": w.end} for w in transcript.words],
            "ts": transcript.ts,
        }
    if kind == "reply.audio":
        reply = decode(data, ReplyAudio)
        return {
            "type": "llm_response",
            "text": reply.text,
            "emotion": reply.emotion,
            "intensity": reply.intensity,
            "audio": base64.b64encode(wav_bytes(reply.pcm, reply.sample_rate)).decode(),
            "audio_format": "wav",
            "duration": len(reply.pcm) / 2 / reply.sample_rate,
            "visemes": [{"t": v.t, "viseme": v.viseme, "weight": v.weight} for v in reply.visemes],
            "turn_id": reply.turn_id,
            "index": reply.index,
            "final": reply.final,
            "synthetic": reply.synthetic,
        }
    if kind == "error":
        error = decode(data, ErrorEvent)
        return {
            "type": "error",
            "code": error.code,
            "message": error.message,
            "source": error.source,
            "ref": error.ref,
        }
    raise ValueError(f"no client message for subject kind {kind!r}")
