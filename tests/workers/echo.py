"""A worker built on the real service runtime, for testing the runtime itself (no model).

It answers each utterance with a transcript whose text is the utterance id, after `delay_ms`, and each
durable turn with a reply sentence. `MRRRME_ECHO_FAIL_TEXT` makes turns with that text fail every time
(a poison message); `MRRRME_ECHO_LATER_TEXT` makes them ask to be retried twice (`RetryLater`).
Run: python -m tests.workers.echo
"""

from __future__ import annotations

import asyncio

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from mrrrme import subjects
from mrrrme.contracts import ReplySentence, Transcript, Turn, Utterance
from mrrrme.runtime import BadInput, BatchPolicy, Context, Delivery, RetryLater, Service, run_main
from mrrrme.settings import ServiceSettings


class EchoSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="MRRRME_ECHO_", extra="ignore")

    delay_ms: float = Field(0.0, description="Simulated model time per unit")
    warmup_s: float = Field(0.0, description="Simulated warm-up time before ready")
    batch: bool = Field(False, description="Consume utterances in micro-batches")
    max_batch: int = 8
    max_wait_ms: float = 20.0
    fail_text: str = Field("", description="Turns with this text raise (poison message)")
    later_text: str = Field("", description="Turns with this text ask to be retried on their first two deliveries")
    durable: bool = Field(False, description="Also consume turns from JetStream")


class EchoService(Service[EchoSettings]):
    name = "echo"

    def __init__(self, settings: EchoSettings) -> None:
        super().__init__(settings, "echo")
        if settings.batch:
            policy = BatchPolicy(max_size=settings.max_batch, max_wait_ms=settings.max_wait_ms)
            self.consume_batches(subjects.ALL_UTTERANCES, schema=Utterance, queue="echo", policy=policy)(self.on_batch)
        else:
            self.consume(subjects.ALL_UTTERANCES, schema=Utterance, queue="echo")(self.answer)
        if settings.durable:
            self.consume_durable(subjects.TURN_STREAM, subjects.ALL_TURNS, schema=Turn, durable="echo", ack_wait_s=5)(
                self.on_turn
            )

    async def setup(self) -> None:
        await asyncio.sleep(self.settings.warmup_s)

    async def answer(self, utterance: Utterance, ctx: Context) -> None:
        if not utterance.pcm:
            raise BadInput("empty_audio", "the utterance holds no audio")
        await asyncio.sleep(self.settings.delay_ms / 1000)
        await ctx.publish(
            subjects.transcript(utterance.session_id),
            Transcript(
                session_id=utterance.session_id, utterance_id=utterance.utterance_id, text=utterance.utterance_id
            ),
        )

    async def on_batch(self, batch: list[Delivery[Utterance]]) -> None:
        await asyncio.sleep(self.settings.delay_ms / 1000)  # one "model call" per batch
        for delivery in batch:
            if not delivery.message.pcm:
                await delivery.ctx.fail("empty_audio", "the utterance holds no audio")
                continue
            await delivery.ctx.publish(
                subjects.transcript(delivery.message.session_id),
                Transcript(
                    session_id=delivery.message.session_id,
                    utterance_id=delivery.message.utterance_id,
                    text=f"batch={len(batch)}",
                ),
            )

    async def on_turn(self, turn: Turn, ctx: Context) -> None:
        s = self.settings
        if s.fail_text and turn.text == s.fail_text:
            raise RuntimeError("poison")
        if s.later_text and turn.text == s.later_text and ctx.deliveries < 3:
            raise RetryLater("the thing it needs is away")
        await asyncio.sleep(s.delay_ms / 1000)
        await ctx.publish(
            subjects.reply_text(turn.session_id),
            ReplySentence(session_id=turn.session_id, turn_id=turn.turn_id, index=0, text=turn.text, final=True),
        )


if __name__ == "__main__":
    run_main(EchoSettings, EchoService)
