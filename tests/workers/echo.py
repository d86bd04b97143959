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
from mrrrme.logs import configure_logging
from mrrrme.runtime import BadInput, BatchPolicy, Context, Delivery, RetryLater, Service
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


def build(settings: EchoSettings) -> Service:
    service = Service("echo", settings, backend="echo")

    @service.on_startup
    async def warm_up() -> None:
        await asyncio.sleep(settings.warmup_s)

    async def answer(utterance: Utterance, ctx: Context) -> None:
        if not utterance.pcm:
            raise BadInput("empty_audio", "the utterance holds no audio")
        await asyncio.sleep(settings.delay_ms / 1000)
        await ctx.publish(
            subjects.transcript(utterance.session_id),
            Transcript(
                session_id=utterance.session_id,
                utterance_id=utterance.utterance_id,
                text=utterance.utterance_id,
            ),
        )

    if settings.batch:

        @service.consume_batches(
            subjects.ALL_UTTERANCES,
            schema=Utterance,
            queue="echo",
            policy=BatchPolicy(max_size=settings.max_batch, max_wait_ms=settings.max_wait_ms),
        )
        async def on_batch(batch: list[Delivery[Utterance]]) -> None:
            await asyncio.sleep(settings.delay_ms / 1000)  # one "model call" per batch
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
    else:
        service.consume(subjects.ALL_UTTERANCES, schema=Utterance, queue="echo")(answer)

    if settings.durable:

        @service.consume_durable(subjects.TURN_STREAM, subjects.ALL_TURNS, schema=Turn, durable="echo", ack_wait_s=5)
        async def on_turn(turn: Turn, ctx: Context) -> None:
            if settings.fail_text and turn.text == settings.fail_text:
                raise RuntimeError("poison")
            if settings.later_text and turn.text == settings.later_text and ctx.deliveries < 3:
                raise RetryLater("the thing it needs is away")
            await asyncio.sleep(settings.delay_ms / 1000)
            await ctx.publish(
                subjects.reply_text(turn.session_id),
                ReplySentence(session_id=turn.session_id, turn_id=turn.turn_id, index=0, text=turn.text, final=True),
            )

    return service


def main() -> None:
    settings = EchoSettings()
    configure_logging(settings.log_level)
    asyncio.run(build(settings).run())


if __name__ == "__main__":
    main()
