"""The tts worker: each reply sentence as it arrives -> speech + viseme track, marked AI-generated.

Sentences come from the `MRRRME_REPLIES` work queue (durable consumer `tts`, one at a time per replica,
acked once the speech is on `MRRRME_REPLY_AUDIO` with the msg-id `<turn>:<index>:audio`): a replica
killed mid-sentence has that sentence redelivered to the next one after `MRRRME_TTS_ACK_WAIT_S`.

Interrupts (barge-in) reach every replica (the control subscription has no queue group): sentences of
an interrupted turn that have not been spoken yet are dropped.
"""

from __future__ import annotations

import re

from mrrrme import subjects
from mrrrme.contracts import Control, ReplyAudio, ReplySentence
from mrrrme.interrupts import Interrupts
from mrrrme.runtime import Context, Service
from services.tts.backends import BACKENDS, TtsBackend
from services.tts.settings import TtsSettings

MARKUP = re.compile(r"<[^>]{0,200}>|!\[[^\]]*\]\([^)]*\)|[*_`#~]|[\x00-\x08\x0b-\x1f\x7f]")


def speakable(text: str, limit: int) -> str:
    """What the voice may say: no tags (SSML, HTML), markdown images or emphasis, control characters."""
    return " ".join(MARKUP.sub(" ", text).split())[:limit]


class TtsService(Service[TtsSettings]):
    """One sentence at a time (no batching: a sentence's audio is wanted as soon as it is ready)."""

    name = "tts"
    backend: TtsBackend

    def __init__(self, settings: TtsSettings) -> None:
        super().__init__(settings, BACKENDS.chosen(settings).name)
        self.interrupted = Interrupts()
        self.consume_durable(
            subjects.REPLY_STREAM,
            subjects.ALL_REPLY_TEXT,
            schema=ReplySentence,
            durable="tts",
            ack_wait_s=settings.ack_wait_s,
            concurrency=1,  # one model thread; in order within a turn
        )(self.on_sentence)
        # No queue group: every replica hears an interrupt.
        self.consume(subjects.ALL_CONTROL, schema=Control)(self.on_control)

    async def setup(self) -> None:
        self.backend = await self.run_blocking(BACKENDS.create, self.settings)
        await self.run_blocking(self.backend.synthesize, "Hello.", "female", "en")

    async def on_sentence(self, sentence: ReplySentence, ctx: Context) -> None:
        if sentence.turn_id in self.interrupted:
            return
        text = speakable(sentence.text, self.settings.max_chars)
        speech = await self.run_blocking(self.backend.synthesize, text, sentence.voice, sentence.language)
        if sentence.turn_id in self.interrupted:  # the user spoke while this was being synthesized
            return
        audio = ReplyAudio(
            session_id=sentence.session_id,
            turn_id=sentence.turn_id,
            index=sentence.index,
            text=sentence.text,
            pcm=speech.pcm,
            sample_rate=speech.sample_rate,
            visemes=speech.visemes,
            emotion=sentence.emotion,
            intensity=sentence.intensity,
            final=sentence.final,
        )
        msg_id = f"{sentence.turn_id}:{sentence.index}:audio"  # a re-spoken sentence is stored once
        await ctx.publish_durable(subjects.reply_audio(sentence.session_id), audio, msg_id=msg_id)

    async def on_control(self, control: Control, ctx: Context) -> None:
        if control.action == "interrupt" and control.turn_id:
            self.interrupted.add(control.turn_id)
