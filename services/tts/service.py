"""The tts worker: each reply sentence as it arrives -> speech + viseme track, marked AI-generated.

Interrupts (barge-in) reach every replica (the control subscription has no queue group): sentences of
an interrupted turn that have not been spoken yet are dropped.
"""

from __future__ import annotations

import re

from mrrrme import subjects
from mrrrme.contracts import Control, ReplyAudio, ReplySentence
from mrrrme.interrupts import Interrupts
from mrrrme.runtime import Context, Service
from mrrrme.runtime.model_worker import run_main
from services.tts.backends import TtsBackend, load_backend
from services.tts.settings import TtsSettings

MARKUP = re.compile(r"<[^>]{0,200}>|!\[[^\]]*\]\([^)]*\)|[*_`#~]|[\x00-\x08\x0b-\x1f\x7f]")


def speakable(text: str, limit: int) -> str:
    """What the voice may say: no tags (SSML, HTML), markdown images or emphasis, control characters."""
    return " ".join(MARKUP.sub(" ", text).split())[:limit]


def build(settings: TtsSettings) -> Service:
    service = Service("tts", settings, backend=settings.backend_name)
    backend: list[TtsBackend] = []
    interrupted = Interrupts()

    @service.on_startup
    async def load() -> None:
        backend.append(await service.run_blocking(load_backend, settings))
        await service.run_blocking(backend[0].synthesize, "Hello.", "female", "en")

    @service.consume(subjects.ALL_REPLY_TEXT, schema=ReplySentence, queue=subjects.TTS_QUEUE)
    async def on_sentence(sentence: ReplySentence, ctx: Context) -> None:
        if sentence.turn_id in interrupted:
            return
        text = speakable(sentence.text, settings.max_chars)
        speech = await service.run_blocking(backend[0].synthesize, text, sentence.voice, sentence.language)
        if sentence.turn_id in interrupted:  # the user spoke while this was being synthesized
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
        await ctx.publish(subjects.reply_audio(sentence.session_id), audio)

    @service.consume(subjects.ALL_CONTROL, schema=Control)  # no queue group: every replica hears it
    async def on_control(control: Control, ctx: Context) -> None:
        if control.action == "interrupt" and control.turn_id:
            interrupted.add(control.turn_id)

    return service


def main() -> None:
    run_main(TtsSettings, build)
