"""Mesh events -> the client protocol's server events (gateway/server_events.py, docs/protocol.md)."""

from __future__ import annotations

import base64
import io
import wave

from gateway import server_events as out
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


def wav_bytes(pcm: bytes, sample_rate: int) -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(sample_rate)
        wav.writeframes(pcm)
    return buffer.getvalue()


def _share(share: ModalityShare | None) -> out.Share | None:
    if share is None:
        return None
    reading = share.reading
    return out.Share(
        emotion=reading.emotion if reading else None,
        confidence=reading.confidence if reading else 0.0,
        probabilities=list(reading.probabilities) if reading else None,
        weight=share.weight,
        quality=share.quality,
    )


def _probabilities(reading: EmotionReading | None) -> list[float] | None:
    return list(reading.probabilities) if reading is not None else None


def to_client(kind: str, data: bytes) -> out.ServerEvent:
    """Translate one event body, by its subject kind, into the client's event. A missing reading (no face,
    no speech) is `emotion: null`, confidence 0 and no probabilities."""
    if kind == "emotion.face":
        face = decode(data, FaceEmotion)
        r = face.reading
        return out.FaceEmotion(
            emotion=r.emotion if r else None,
            confidence=r.confidence if r else 0.0,
            probabilities=_probabilities(r),
            quality=face.quality,
            box=face.box,
            faces=face.faces,
            frame_seq=face.frame_seq,
            ts=face.ts,
        )
    if kind == "emotion.voice":
        voice = decode(data, VoiceEmotion)
        r = voice.reading
        return out.VoiceEmotion(
            emotion=r.emotion if r else None,
            confidence=r.confidence if r else 0.0,
            probabilities=_probabilities(r),
            speech=voice.speech,
            utterance_id=voice.utterance_id,
            ts=voice.ts,
        )
    if kind == "emotion.text":
        text = decode(data, TextEmotion)
        r = text.reading
        return out.TextEmotion(
            emotion=r.emotion if r else None,
            confidence=r.confidence if r else 0.0,
            probabilities=_probabilities(r),
            utterance_id=text.utterance_id,
            ts=text.ts,
        )
    if kind == "emotion.fused":
        fused = decode(data, FusedEmotion)
        return out.FusedEmotion(
            emotion=fused.emotion,
            intensity=fused.intensity,
            probabilities=list(fused.probabilities),
            live=fused.utterance_id is None,
            utterance_id=fused.utterance_id,
            modalities=out.Modalities(face=_share(fused.face), voice=_share(fused.voice), text=_share(fused.text)),
            conflict=fused.conflict,
            masking=fused.masking,
            evidence=list(fused.evidence),
            ts=fused.ts,
        )
    if kind == "transcript":
        transcript = decode(data, Transcript)
        return out.Transcript(
            text=transcript.text,
            language=transcript.language,
            utterance_id=transcript.utterance_id,
            source=transcript.source,
            words=[out.Word(word=w.word, start=w.start, end=w.end) for w in transcript.words],
            ts=transcript.ts,
        )
    if kind == "reply.audio":
        reply = decode(data, ReplyAudio)
        return out.LlmResponse(
            text=reply.text,
            emotion=reply.emotion,
            intensity=reply.intensity,
            audio=base64.b64encode(wav_bytes(reply.pcm, reply.sample_rate)).decode(),
            audio_format="wav",
            duration=len(reply.pcm) / 2 / reply.sample_rate,
            visemes=[out.Viseme(t=v.t, viseme=v.viseme, weight=v.weight) for v in reply.visemes],
            turn_id=reply.turn_id,
            index=reply.index,
            final=reply.final,
            synthetic=reply.synthetic,
        )
    if kind == "error":
        error = decode(data, ErrorEvent)
        return out.Error(code=error.code, message=error.message, source=error.source, ref=error.ref)
    raise ValueError(f"no client message for subject kind {kind!r}")
