"""One socket's media pipeline: consented camera frames and audio into the mesh, cut into utterances.

Nothing from a device is processed until its consent is on record (TARGETS.md P5). Frames are checked
structurally (gateway/media.py) and published as they come; audio goes through the session's
segmenter (Silero VAD, and Smart Turn when `end_of_turn` is "model"), whose finished utterances are
published. What comes here has passed the inbound guard's size and rate limits already.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

import msgspec

from gateway.media import check_pcm16, inspect_jpeg
from gateway.metrics import GatewayMetrics
from gateway.opus import Recording, RecordingLimits
from gateway.protocol import CLOSE_TOO_BIG, ProtocolError
from gateway.settings import GatewaySettings
from gateway.speculation import EarlyRecognition
from gateway.turn_words import sounds_unfinished
from gateway.vad import Segmenter, SegmentEvent
from mrrrme import subjects
from mrrrme.contracts import Frame, Transcript, Utterance, new_id

log = logging.getLogger("mrrrme.gateway.pipeline")

TICK_S = 0.04
"""How often the session asks its segmenter whether a turn ended between audio chunks (one chunk is 40 ms)."""


class MediaPipeline:
    def __init__(
        self,
        session_id: str,
        settings: GatewaySettings,
        metrics: GatewayMetrics,
        segmenter: Segmenter,
        publish_media: Callable[[str, msgspec.Struct], Awaitable[None]],
        notice: Callable[[str, str], None],
        speech_started: Callable[[], Awaitable[None]],
        language: Callable[[], str],
        early: EarlyRecognition | None = None,
    ) -> None:
        self._session_id = session_id
        self._early = early
        self._publishing: asyncio.Task[None] | None = None
        """The latest utterance publish waiting for its early transcript; each waits for the one before,
        so utterances reach the mesh in the order they were spoken."""
        self._settings = settings
        self._metrics = metrics
        self._segmenter = segmenter
        self._publish_media = publish_media
        self._notice = notice
        self._speech_started = speech_started
        self._language = language
        self.consent: dict[str, bool] = {"camera": False, "microphone": False}
        self._frame_seq = 0
        self.recording = Recording(RecordingLimits.from_settings(settings))

    def set_consent(self, camera: bool, microphone: bool) -> None:
        withdrawn_mic = self.consent["microphone"] and not microphone
        self.consent = {"camera": camera, "microphone": microphone}
        if withdrawn_mic:
            self._segmenter.reset()  # speech heard before the withdrawal is not sent on afterwards
            self.recording.reset()
            if self._early is not None:
                self._early.discard()

    def _consented(self, device: str, kind: str) -> bool:
        if self.consent[device]:
            return True
        self._metrics.dropped.labels("no_consent").inc()
        self._notice("consent_required", f"{kind} dropped: no {device} consent on record (PUT /api/consent)")
        return False

    async def on_frame(self, jpeg: bytes, seq: int | None) -> None:
        """A JPEG frame; `seq` from a binary frame's header, else the next number."""
        if not self._consented("camera", "video frame"):
            return
        limit = self._settings.max_frame_bytes
        if len(jpeg) > limit:
            raise ProtocolError("too_big", f"frame exceeds {limit} bytes", CLOSE_TOO_BIG)
        width, height = inspect_jpeg(jpeg, self._settings.max_frame_pixels)
        self._frame_seq = seq if seq is not None else self._frame_seq + 1
        frame = Frame(session_id=self._session_id, seq=self._frame_seq, jpeg=jpeg, width=width, height=height)
        await self._publish_media(subjects.frame(self._session_id), frame)
        self._metrics.messages.labels("video_frame", "ok").inc()

    async def on_audio(self, pcm: bytes) -> None:
        """A PCM16 chunk, or one of a WebM/Ogg Opus recording (the seed's client, gateway/opus.py): checked
        before consent, so that a malformed chunk is answered as such; decoded only with consent."""
        limit = self._settings.max_audio_chunk_bytes
        if len(pcm) > limit:
            raise ProtocolError("too_big", f"audio chunk exceeds {limit} bytes", CLOSE_TOO_BIG)
        recorded = self.recording.claims(pcm)
        if not recorded:
            check_pcm16(pcm)
        if not self._consented("microphone", "audio"):
            self.recording.reset()  # a recording joined later resynchronises at its next Cluster or page
            return
        if recorded:
            pcm = self.recording.decode(pcm)
        started = time.perf_counter()
        segments = self._segmenter.feed(pcm)
        self._metrics.vad_seconds.observe(time.perf_counter() - started)
        self._metrics.messages.labels("audio_chunk", "ok").inc()
        await self._on_segments(segments)

    async def end_speech(self) -> None:
        """The client says the utterance in progress has ended (`speech_end`): cut it now."""
        await self._on_segments(self._segmenter.flush())

    async def tick(self) -> None:
        """The end of a turn does not wait for the next audio chunk: the turn model's answer is acted on
        as soon as it is there, and a client that stops streaming after its last words still gets its
        utterance once the silence limit has passed. Runs until cancelled."""
        while True:
            await asyncio.sleep(TICK_S)
            segments = self._segmenter.tick()
            if segments:
                await self._on_segments(segments)

    async def _on_segments(self, segments: list[SegmentEvent]) -> None:
        for segment in segments:
            if segment.kind == "speech_start":
                await self._speech_started()
            elif segment.kind == "speculate" and self._early is not None and segment.speculation is not None:
                recognition = self._early.start(segment.speculation, self._utterance(segment))
                recognition.add_done_callback(self._words_heard(segment.speculation))
            elif segment.kind == "utterance":
                await self._publish_utterance(segment)

    def _words_heard(self, speculation: int) -> Callable[[asyncio.Task[Transcript | None]], None]:
        """Tell the segmenter what an early transcript's words say about the end of the turn (its next
        chunk or tick acts on it)."""

        def heard(recognition: asyncio.Task[Transcript | None]) -> None:
            if recognition.cancelled():
                return
            transcript = recognition.result()
            unfinished = None if transcript is None else sounds_unfinished(transcript.text)
            self._segmenter.heard(speculation, unfinished)

        return heard

    def _utterance(self, segment: SegmentEvent, early: Transcript | None = None) -> Utterance:
        return Utterance(
            session_id=self._session_id,
            utterance_id=new_id(),
            pcm=segment.pcm,
            started_at=segment.started_at,
            ended_at=segment.ended_at,
            language=self._language(),
            early=early,
        )

    async def _publish_utterance(self, segment: SegmentEvent) -> None:
        recognition = self._early.claim(segment.speculation) if self._early is not None else None
        if recognition is None and self._publishing is None:
            await self._publish(self._utterance(segment))
            return
        # Waiting for the early transcript must not hold up the socket's receive loop (audio keeps coming):
        # the publish goes on in a task, after the one before it.
        self._publishing = asyncio.create_task(
            self._publish_after(self._publishing, segment, recognition), name=f"utterance-{self._session_id[:8]}"
        )

    async def _publish_after(
        self,
        previous: asyncio.Task[None] | None,
        segment: SegmentEvent,
        recognition: asyncio.Task[Transcript | None] | None,
    ) -> None:
        if previous is not None:
            await asyncio.gather(previous, return_exceptions=True)
        try:
            early = await recognition if recognition is not None else None
            await self._publish(self._utterance(segment, early))
        except Exception as exc:  # a task's failure nobody awaits: said once, never lost silently
            log.warning("session %s: utterance not published: %s", self._session_id[:8], type(exc).__name__)
        finally:
            if self._publishing is asyncio.current_task():
                self._publishing = None

    async def _publish(self, utterance: Utterance) -> None:
        await self._publish_media(subjects.utterance(self._session_id), utterance)
        self._metrics.utterances.inc()

    async def close(self) -> None:
        """The socket is gone: an early recognition under way and a publish waiting for it end here."""
        if self._early is not None:
            await self._early.close()
        publishing, self._publishing = self._publishing, None
        if publishing is not None:
            publishing.cancel()
            await asyncio.gather(publishing, return_exceptions=True)
