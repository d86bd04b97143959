"""The fusion worker: joins each utterance's modalities in Redis, fuses them once, publishes the fused
emotion for the client and a durable turn for dialogue; between turns, a rate-limited face-only estimate."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

import msgspec

from mrrrme import subjects
from mrrrme.contracts import (
    Control,
    FaceEmotion,
    FusedEmotion,
    ModalityShare,
    TextEmotion,
    Transcript,
    Turn,
    VoiceEmotion,
)
from mrrrme.redis_client import redis_client
from mrrrme.runtime import Context, Service
from mrrrme.runtime.tracing import TraceContext, span
from services.fusion import learned, rules
from services.fusion.settings import FusionSettings
from services.fusion.state import FaceSample, FusionState, Joined

log = logging.getLogger("services.fusion")
LIVE_WINDOW_S = 2.0
"""The live estimate averages the faces of the last two seconds."""
TYPED_WINDOW_S = 3.0
"""Typed text has no utterance span: the faces of the last three seconds go with it."""


def _share(reading: object, weight: float, quality: float | None = None) -> ModalityShare | None:
    if reading is None:
        return None
    return ModalityShare(reading=reading, weight=weight, quality=quality)  # type: ignore[arg-type]


class FusionService(Service[FusionSettings]):
    name = "fusion"

    def __init__(self, settings: FusionSettings) -> None:
        super().__init__(settings, "rules")
        self.redis = redis_client(settings.redis_url)  # connects on first use
        self.state = FusionState(self.redis, settings.state_ttl_s)
        self.weights: rules.FusionWeights | rules.LateFusion = rules.FusionWeights(
            settings.face_weight, settings.voice_weight, settings.text_weight
        )
        queue, many = subjects.FUSION_QUEUE, 8
        for subject, schema, handler in (
            (subjects.ALL_TRANSCRIPTS, Transcript, self.on_transcript),
            (subjects.ALL_VOICE_EMOTIONS, VoiceEmotion, self.on_voice),
            (subjects.ALL_TEXT_EMOTIONS, TextEmotion, self.on_text),
            (subjects.ALL_FACE_EMOTIONS, FaceEmotion, self.on_face),
            (subjects.ALL_CONTROL, Control, self.on_control),
        ):
            self.consume(subject, schema=schema, queue=queue, concurrency=many)(handler)  # type: ignore[arg-type]

    async def setup(self) -> None:
        if self.settings.weights_file:  # checked before anything is served: a bad file is one StartupError line
            self.weights = learned.load(Path(self.settings.weights_file))
            log.info("fusion: weights from %s (%s)", self.settings.weights_file, type(self.weights).__name__)
        await self.redis.ping()
        self.spawn(self.sweep_forever(), "deadlines")

    async def teardown(self) -> None:
        await self.redis.aclose()

    async def sweep_forever(self) -> None:
        while True:
            await asyncio.sleep(0.2)
            try:
                await self.sweep()
            except Exception as exc:
                if not self.outage.started(exc):  # Redis restarting is one line; anything else a bug
                    log.exception("fusion: deadline sweep failed")
            else:
                self.outage.ended()

    async def on_transcript(self, transcript: Transcript, ctx: Context) -> None:
        await self.on_part(transcript.session_id, transcript.utterance_id, "transcript", transcript, ctx)
        if transcript.source == "typed":  # typed text has no voice: do not wait for it
            await self.on_part(
                transcript.session_id, transcript.utterance_id, "voice",
                VoiceEmotion(session_id=transcript.session_id, utterance_id=transcript.utterance_id,
                             reading=None, speech=False),
                ctx,
            )  # fmt: skip

    async def on_voice(self, voice: VoiceEmotion, ctx: Context) -> None:
        await self.on_part(voice.session_id, voice.utterance_id, "voice", voice, ctx)

    async def on_text(self, text: TextEmotion, ctx: Context) -> None:
        await self.on_part(text.session_id, text.utterance_id, "text", text, ctx)

    async def on_control(self, control: Control, ctx: Context) -> None:
        if control.action == "preferences" and control.preferences is not None:
            await self.state.set_preferences(control.session_id, control.preferences)
        elif control.action == "end":
            await self.state.forget(control.session_id)

    async def on_part(self, sid: str, uid: str, field: str, event: msgspec.Struct, ctx: Context | None) -> None:
        trace = ctx.trace.header() if ctx is not None else ""
        joined = await self.state.add(
            sid, uid, field, event, self.settings.deadline_s, self.settings.transcript_wait_s, trace
        )
        if joined.complete and await self.state.claim(sid, uid):
            await self.fuse(sid, uid, joined, ctx)

    async def sweep(self) -> None:
        """Fuse whatever arrived for utterances whose deadline passed (any replica may do it)."""
        for sid, uid in await self.state.overdue():
            try:
                if await self.state.claim(sid, uid):
                    await self.fuse_overdue(sid, uid)
            except Exception:  # one broken utterance must not hold up the others
                log.exception("fusion: could not fuse an overdue utterance of session %s", sid[:8])

    async def fuse_overdue(self, sid: str, uid: str) -> None:
        """Fuse an utterance whose parts did not all come, within the trace its first part brought."""
        joined = await self.state.joined(sid, uid)
        with span(self.name, "fuse overdue", TraceContext.parse(joined.trace), "internal") as stage:
            # The turn is published on the utterance's behalf: a context that carries its session and trace.
            resumed = Context(self, subjects.turn(sid), sid, "", stage.trace, stage=stage)
            await self.fuse(sid, uid, joined, resumed)

    async def fuse(self, sid: str, uid: str, joined: Joined, ctx: Context | None) -> None:
        span = joined.transcript or joined.voice
        if span is not None and span.started_at is not None and span.ended_at is not None:
            window = (span.started_at - self.settings.face_window_s, span.ended_at + self.settings.face_window_s)
        else:
            window = (time.time() - TYPED_WINDOW_S, time.time())
        faces = await self.state.faces(sid, *window)
        face = rules.aggregate_faces([(f.reading, f.quality) for f in faces])
        transcript = joined.transcript
        voice, text = joined.voice, joined.text
        inputs = rules.Inputs(
            face=face[0] if face else None,
            face_quality=face[1] if face else 0.0,
            voice=voice.reading if voice else None,
            speech=voice.speech if voice else True,
            text=text.reading if text else None,
            text_chars=len(transcript.text.strip()) if transcript else 0,
            face_duchenne=rules.mean_duchenne([f.duchenne for f in faces]),
        )
        result = rules.fuse(inputs, self.weights)
        fused = None
        if result is not None:
            fused = self._fused_emotion(sid, uid, inputs, result, quality=face[1] if face else None)
            await self.publish(subjects.fused_emotion(sid), fused, parent=ctx)
        if transcript is not None and transcript.text.strip():
            # No reading at all (typed text in a language the text model does not read, no camera): the
            # words are still a turn, answered without an emotion context.
            turn = Turn(
                session_id=sid,
                turn_id=uid,
                text=transcript.text.strip(),
                utterance_id=uid,
                fused=fused,
                preferences=await self.state.preferences(sid),
            )
            # The utterance id is the message id: a re-fused utterance is de-duplicated by JetStream.
            await self.publish_durable(subjects.turn(sid), turn, parent=ctx, msg_id=uid)
        await self.state.fused(sid, uid)

    @staticmethod
    def _fused_emotion(
        sid: str, uid: str, inputs: rules.Inputs, result: rules.Fusion, quality: float | None
    ) -> FusedEmotion:
        return FusedEmotion(
            session_id=sid,
            utterance_id=uid,
            emotion=result.emotion,  # type: ignore[arg-type]
            intensity=result.intensity,
            probabilities=result.probabilities,
            face=_share(inputs.face, result.weights["face"], quality),
            voice=_share(inputs.voice, result.weights["voice"]),
            text=_share(inputs.text, result.weights["text"]),
            conflict=result.conflict,
            masking=result.masking,
            evidence=result.evidence,
        )

    async def on_face(self, face: FaceEmotion, ctx: Context) -> None:
        """Each face joins the session's recent faces; at most one live face-only estimate per interval."""
        if face.reading is None:
            return
        await self.state.add_face(face.session_id, FaceSample(face.ts, face.reading, face.quality, face.duchenne))
        if not await self.state.live_slot(face.session_id, self.settings.live_interval_s):
            return
        recent = await self.state.faces(face.session_id, time.time() - LIVE_WINDOW_S, time.time() + 1)
        aggregated = rules.aggregate_faces([(f.reading, f.quality) for f in recent])
        if aggregated is None:
            return
        reading, quality = aggregated
        live = FusedEmotion(
            session_id=face.session_id,
            utterance_id=None,
            emotion=reading.emotion,
            intensity=reading.confidence,
            probabilities=reading.probabilities,
            face=ModalityShare(reading=reading, weight=1.0, quality=quality),
        )
        await ctx.publish(subjects.fused_emotion(face.session_id), live)
