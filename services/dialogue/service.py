"""The dialogue worker: takes turns from JetStream (acked after the reply), answers crisis language with a
safe reply before any model, otherwise asks its backend, and streams the reply sentence by sentence."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from redis.asyncio import Redis

from mrrrme import subjects
from mrrrme.contracts import Control, ReplySentence, SummaryReply, SummaryRequest, Turn, TurnRecord
from mrrrme.interrupts import Interrupts
from mrrrme.runtime import Context, Service
from mrrrme.runtime.model_worker import run_main
from services.dialogue import composer, crisis, prompt, summary
from services.dialogue.llm import ChatClient, GroqClient, LlmError, OpenAiCompatibleClient, sentences
from services.dialogue.settings import DialogueSettings

log = logging.getLogger("services.dialogue")


class Conversation:
    """Short conversation context in Redis: any replica can answer any turn of any session."""

    def __init__(self, redis: Any, keep: int) -> None:
        self.redis = redis
        self.keep = keep

    async def history(self, sid: str) -> list[tuple[str, str]]:
        raw = await self.redis.lrange(f"mrrrme:dialogue:{sid}:history", -2 * self.keep, -1)
        return [tuple(json.loads(item)) for item in raw]

    async def remember(self, sid: str, user: str, assistant: str) -> None:
        key = f"mrrrme:dialogue:{sid}:history"
        async with self.redis.pipeline(transaction=True) as pipe:
            if user:
                pipe.rpush(key, json.dumps(["user", user]))
            pipe.rpush(key, json.dumps(["assistant", assistant]))
            pipe.ltrim(key, -2 * self.keep, -1)
            pipe.expire(key, 24 * 3600)
            await pipe.execute()

    async def answered(self, sid: str, turn_id: str) -> bool:
        return bool(await self.redis.exists(f"mrrrme:dialogue:{sid}:answered:{turn_id}"))

    async def mark_answered(self, sid: str, turn_id: str) -> None:
        await self.redis.set(f"mrrrme:dialogue:{sid}:answered:{turn_id}", b"1", ex=24 * 3600)

    async def forget(self, sid: str) -> None:
        await self.redis.delete(f"mrrrme:dialogue:{sid}:history")

    async def summary(self, sid: str) -> str:
        """The person's summary from earlier sessions, put there by the gateway when the session began."""
        raw = await self.redis.get(f"mrrrme:session:{sid}:summary")
        return raw.decode() if isinstance(raw, bytes) else (raw or "")


async def _listed(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


def build(settings: DialogueSettings) -> Service:
    service = Service("dialogue", settings, backend=settings.backend_name)
    interrupted = Interrupts()
    state: dict[str, Any] = {}

    @service.on_startup
    async def connect() -> None:
        redis = Redis.from_url(settings.redis_url)
        await redis.ping()
        state["conversation"] = Conversation(redis, settings.history_turns)
        if settings.backend_name == "groq" and settings.api_key:
            state["llm"] = GroqClient(settings.base_url, settings.api_key, settings.model, settings.timeout_s,
                                      settings.retries)  # fmt: skip
        elif settings.backend_name == "openai":
            if not settings.base_url:
                raise RuntimeError(
                    "MRRRME_DIALOGUE_BACKEND=openai needs MRRRME_DIALOGUE_BASE_URL (e.g. http://localhost:11434/v1)"
                )
            state["llm"] = OpenAiCompatibleClient(settings.base_url, settings.api_key, settings.model,
                                                  settings.timeout_s, settings.retries)  # fmt: skip

    @service.on_shutdown
    async def disconnect() -> None:
        if "llm" in state:
            await state["llm"].aclose()
        if "conversation" in state:
            await state["conversation"].redis.aclose()

    async def reply_sentences(turn: Turn, ctx: Context) -> tuple[AsyncIterator[str], str, float]:
        conversation: Conversation = state["conversation"]
        history = await conversation.history(turn.session_id)
        summary_text = await conversation.summary(turn.session_id)
        recent = [text for role, text in history[-6:] if role == "assistant"]
        fallback, emotion, intensity = composer.compose(turn, recent, returning=bool(summary_text))
        group = crisis.detect(turn.text) if turn.kind == "user" else None
        if group is not None:
            service.metrics.messages.labels("crisis", group).inc()  # a counter, never the words
            return _listed(crisis.safe_reply(group, turn.preferences.language)), "Sad", 0.3
        if settings.backend_name == "groq" and not settings.api_key:
            await ctx.fail("llm_unavailable", "no GROQ_API_KEY is set: answering with the offline composer")
            return _listed(fallback), emotion, intensity
        llm: ChatClient | None = state.get("llm")
        if llm is None:
            return _listed(fallback), emotion, intensity
        messages = prompt.messages(turn, history, summary_text, settings.max_input_chars)
        return (
            _llm_or_fallback(llm, messages, prompt.MAX_TOKENS[turn.preferences.style], fallback, ctx),
            emotion,
            intensity,
        )

    async def _llm_or_fallback(
        llm: ChatClient, messages: list[dict[str, str]], max_tokens: int, fallback: list[str], ctx: Context
    ) -> AsyncIterator[str]:
        produced = False
        try:
            async for sentence in sentences(llm.stream(messages, max_tokens)):
                produced = True
                yield sentence
        except LlmError as exc:
            log.warning("dialogue: %s", exc)
            await ctx.fail("llm_unavailable", "the language model is not answering right now: a simpler reply follows")
            if not produced:
                for sentence in fallback:
                    yield sentence

    @service.consume_durable(
        subjects.TURN_STREAM,
        subjects.ALL_TURNS,
        schema=Turn,
        durable="dialogue",
        ack_wait_s=settings.ack_wait_s,
        concurrency=4,
    )
    async def on_turn(turn: Turn, ctx: Context) -> None:
        conversation: Conversation = state["conversation"]
        if await conversation.answered(turn.session_id, turn.turn_id):
            return  # a redelivery of a turn whose reply already went out
        stream, emotion, intensity = await reply_sentences(turn, ctx)
        spoken: list[str] = []
        pending: str | None = None
        async for sentence in stream:
            if turn.turn_id in interrupted:
                break
            if pending is not None:
                await publish(turn, len(spoken) - 1, pending, emotion, intensity, final=False, ctx=ctx)
            spoken.append(sentence)
            pending = sentence
        if pending is not None and turn.turn_id not in interrupted:
            await publish(turn, len(spoken) - 1, pending, emotion, intensity, final=True, ctx=ctx)
        reply = " ".join(spoken)
        await conversation.remember(turn.session_id, turn.text if turn.kind == "user" else "", reply)
        record = TurnRecord(
            session_id=turn.session_id, turn_id=turn.turn_id, kind=turn.kind, user_text=turn.text,
            fused=turn.fused, reply=reply, reply_emotion=emotion, reply_intensity=intensity,  # type: ignore[arg-type]
            interrupted=turn.turn_id in interrupted,
        )  # fmt: skip
        # For the database (memory service); the same msg-id if this turn is ever answered again.
        await ctx.publish_durable(subjects.turn_record(turn.session_id), record, msg_id=f"{turn.turn_id}:record")
        await conversation.mark_answered(turn.session_id, turn.turn_id)

    async def publish(
        turn: Turn, index: int, text: str, emotion: str, intensity: float, final: bool, ctx: Context
    ) -> None:
        sentence = ReplySentence(
            session_id=turn.session_id, turn_id=turn.turn_id, index=index, text=text,
            emotion=emotion, intensity=intensity, final=final,  # type: ignore[arg-type]
            voice=turn.preferences.voice, language=turn.preferences.language,
        )  # fmt: skip
        await ctx.publish(subjects.reply_text(turn.session_id), sentence)

    @service.consume(subjects.SUMMARIZE, schema=SummaryRequest, queue=subjects.DIALOGUE_QUEUE, concurrency=2)
    async def on_summarize(request: SummaryRequest, ctx: Context) -> None:
        llm: ChatClient | None = state.get("llm")
        text = summary.lite(request)
        if llm is not None:
            try:
                chunks = [c async for c in llm.stream(summary.messages(request, settings.max_input_chars), 250)]
                text = summary.clean("".join(chunks)) or text
            except LlmError as exc:
                log.warning("dialogue: summary by the model failed, using the offline summary: %s", exc)
        await ctx.respond(SummaryReply(session_id=request.session_id, text=text))

    @service.consume(subjects.ALL_CONTROL, schema=Control)  # no queue group: every replica hears it
    async def on_control(control: Control, ctx: Context) -> None:
        if control.action == "interrupt" and control.turn_id:
            interrupted.add(control.turn_id)
        elif control.action == "end":
            with contextlib.suppress(Exception):
                await state["conversation"].forget(control.session_id)

    return service


def main() -> None:
    run_main(DialogueSettings, build)
