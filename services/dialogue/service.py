"""The dialogue worker: takes turns from JetStream (acked after the reply), answers crisis language with a
safe reply before any model, otherwise asks its backend, and streams the reply sentence by sentence (the
first sentence's opening clause on its own, so speech starts sooner: services/dialogue/pacing.py).

Each sentence is kept in Redis as it is made and published durably (`MRRRME_REPLIES`, msg-id
`<turn>:<index>`) before the turn is acked: a turn redelivered after a crash replays the same sentences
(de-duplicated by JetStream and by the gateway) rather than a new reply."""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import AsyncIterator

import msgspec
from redis.asyncio import Redis

from mrrrme import keys, subjects
from mrrrme.contracts import Control, ReplySentence, SummaryReply, SummaryRequest, Turn, TurnRecord, decode, encode
from mrrrme.interrupts import Interrupts
from mrrrme.redis_client import redis_client
from mrrrme.runtime import Context, Service
from services.dialogue import composer, crisis, prompt, summary
from services.dialogue.backends import BACKENDS
from services.dialogue.llm import ChatClient, LlmError, sentences
from services.dialogue.pacing import opening_clause_apart
from services.dialogue.settings import DialogueSettings

log = logging.getLogger("services.dialogue")


class Conversation:
    """Short conversation context in Redis: any replica can answer any turn of any session."""

    def __init__(self, redis: Redis, keep: int) -> None:
        self.redis = redis
        self.keep = keep

    async def history(self, sid: str) -> list[tuple[str, str]]:
        raw = await self.redis.lrange(keys.dialogue_history(sid), -2 * self.keep, -1)
        return [tuple(json.loads(item)) for item in raw]

    async def remember(self, sid: str, user: str, assistant: str) -> None:
        key = keys.dialogue_history(sid)
        async with self.redis.pipeline(transaction=True) as pipe:
            if user:
                pipe.rpush(key, json.dumps(["user", user]))
            pipe.rpush(key, json.dumps(["assistant", assistant]))
            pipe.ltrim(key, -2 * self.keep, -1)
            pipe.expire(key, 24 * 3600)
            await pipe.execute()

    async def answered(self, sid: str, turn_id: str) -> bool:
        return bool(await self.redis.exists(keys.dialogue_answered(sid, turn_id)))

    async def mark_answered(self, sid: str, turn_id: str) -> None:
        await self.redis.set(keys.dialogue_answered(sid, turn_id), b"1", ex=24 * 3600)

    async def keep_sentence(self, sentence: ReplySentence) -> None:
        """Keep a sentence of the reply before it is published: a redelivered turn says the same."""
        key = keys.dialogue_reply(sentence.session_id, sentence.turn_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, encode(sentence))
            pipe.expire(key, 24 * 3600)
            await pipe.execute()

    async def kept_reply(self, sid: str, turn_id: str) -> list[ReplySentence]:
        kept = await self.redis.lrange(keys.dialogue_reply(sid, turn_id), 0, -1)
        return [decode(item if isinstance(item, bytes) else item.encode(), ReplySentence) for item in kept]

    async def forget(self, sid: str) -> None:
        await self.redis.delete(keys.dialogue_history(sid))

    async def summary(self, sid: str) -> str:
        """The person's summary from earlier sessions, put there by the gateway when the session began."""
        raw = await self.redis.get(keys.session_summary(sid))
        return raw.decode() if isinstance(raw, bytes) else (raw or "")


async def _listed(items: list[str]) -> AsyncIterator[str]:
    for item in items:
        yield item


class DialogueService(Service[DialogueSettings]):
    name = "dialogue"

    def __init__(self, settings: DialogueSettings) -> None:
        super().__init__(settings, BACKENDS.chosen(settings).name)
        self.redis = redis_client(settings.redis_url)  # connects on first use
        self.conversation = Conversation(self.redis, settings.history_turns)
        self.llm: ChatClient | None = None
        self.interrupted = Interrupts()
        self.consume_durable(
            subjects.TURN_STREAM,
            subjects.ALL_TURNS,
            schema=Turn,
            durable="dialogue",
            ack_wait_s=settings.ack_wait_s,
            concurrency=4,
        )(self.on_turn)
        self.consume(subjects.SUMMARIZE, schema=SummaryRequest, queue=subjects.DIALOGUE_QUEUE, concurrency=2)(
            self.on_summarize
        )
        # No queue group: every replica hears an interrupt.
        self.consume(subjects.ALL_CONTROL, schema=Control)(self.on_control)

    async def setup(self) -> None:
        self.llm = BACKENDS.create(self.settings)  # a StartupError (no base URL...) is one log line
        await self.redis.ping()

    async def teardown(self) -> None:
        if self.llm is not None:
            await self.llm.aclose()
        await self.redis.aclose()

    async def reply_sentences(self, turn: Turn, ctx: Context) -> tuple[AsyncIterator[str], str, float]:
        history = await self.conversation.history(turn.session_id)
        summary_text = await self.conversation.summary(turn.session_id)
        # The whole kept history (`history_turns`): the composer never repeats a sentence within it, and
        # answers "what should I do?" about what the person said before.
        recent = [text for role, text in history if role == "assistant"]
        said_before = [text for role, text in history if role == "user"]
        fallback, emotion, intensity = composer.compose(
            turn, recent, returning=bool(summary_text), said_before=said_before
        )
        group = crisis.detect(turn.text) if turn.kind == "user" else None
        if group is not None:
            self.metrics.messages.labels("crisis", group).inc()  # a counter, never the words
            return _listed(crisis.safe_reply(group, turn.preferences.language)), "Sad", 0.3
        if self.llm is None:
            if self.backend_name == "groq":
                await ctx.fail("llm_unavailable", "no GROQ_API_KEY is set: answering with the offline composer")
            return _listed(fallback), emotion, intensity
        messages = prompt.messages(turn, history, summary_text, self.settings.max_input_chars)
        stream = self._llm_or_fallback(self.llm, messages, prompt.MAX_TOKENS[turn.preferences.style], fallback, ctx)
        return stream, emotion, intensity

    async def _llm_or_fallback(
        self, llm: ChatClient, messages: list[dict[str, str]], max_tokens: int, fallback: list[str], ctx: Context
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

    async def on_turn(self, turn: Turn, ctx: Context) -> None:
        if await self.conversation.answered(turn.session_id, turn.turn_id):
            return  # a redelivery of a turn whose reply already went out
        kept = await self.conversation.kept_reply(turn.session_id, turn.turn_id)
        if kept:
            # Redelivered after a crash mid-reply: the same sentences again (what was published already is
            # de-duplicated by its message id), ending at the last one made.
            spoken, emotion, intensity = await self.replay(turn, kept, ctx)
        else:
            spoken, emotion, intensity = await self.answer(turn, ctx)
        reply = " ".join(spoken)
        await self.conversation.remember(turn.session_id, turn.text if turn.kind == "user" else "", reply)
        record = TurnRecord(
            session_id=turn.session_id, turn_id=turn.turn_id, kind=turn.kind, user_text=turn.text,
            fused=turn.fused, reply=reply, reply_emotion=emotion, reply_intensity=intensity,  # type: ignore[arg-type]
            interrupted=turn.turn_id in self.interrupted,
        )  # fmt: skip
        # For the database (memory service); the same msg-id if this turn is ever answered again.
        await ctx.publish_durable(subjects.turn_record(turn.session_id), record, msg_id=f"{turn.turn_id}:record")
        await self.conversation.mark_answered(turn.session_id, turn.turn_id)

    async def answer(self, turn: Turn, ctx: Context) -> tuple[list[str], str, float]:
        stream, emotion, intensity = await self.reply_sentences(turn, ctx)
        spoken: list[str] = []
        pending: ReplySentence | None = None
        async for text in opening_clause_apart(stream):  # the reply's first audio comes sooner
            if turn.turn_id in self.interrupted:
                break
            if pending is not None:
                await self.publish_sentence(pending, ctx)
            pending = self.sentence(turn, len(spoken), text, emotion, intensity)
            await self.conversation.keep_sentence(pending)
            spoken.append(text)
        if pending is not None and turn.turn_id not in self.interrupted:
            await self.publish_sentence(msgspec.structs.replace(pending, final=True), ctx)
        return spoken, emotion, intensity

    async def replay(self, turn: Turn, kept: list[ReplySentence], ctx: Context) -> tuple[list[str], str, float]:
        for sentence in kept:
            if turn.turn_id in self.interrupted:
                break
            final = sentence.index == kept[-1].index
            await self.publish_sentence(msgspec.structs.replace(sentence, final=final), ctx)
        return [s.text for s in kept], kept[0].emotion, kept[0].intensity

    @staticmethod
    def sentence(turn: Turn, index: int, text: str, emotion: str, intensity: float) -> ReplySentence:
        return ReplySentence(
            session_id=turn.session_id, turn_id=turn.turn_id, index=index, text=text,
            emotion=emotion, intensity=intensity,  # type: ignore[arg-type]
            voice=turn.preferences.voice, language=turn.preferences.language,
        )  # fmt: skip

    async def publish_sentence(self, sentence: ReplySentence, ctx: Context) -> None:
        """Durable, with the message id `<turn>:<index>`: a replayed sentence is stored once."""
        await ctx.publish_durable(
            subjects.reply_text(sentence.session_id), sentence, msg_id=f"{sentence.turn_id}:{sentence.index}"
        )

    async def on_summarize(self, request: SummaryRequest, ctx: Context) -> None:
        text = summary.lite(request)
        if self.llm is not None:
            try:
                messages = summary.messages(request, self.settings.max_input_chars)
                chunks = [c async for c in self.llm.stream(messages, 250)]
                text = summary.clean("".join(chunks)) or text
            except LlmError as exc:
                log.warning("dialogue: summary by the model failed, using the offline summary: %s", exc)
        await ctx.respond(SummaryReply(session_id=request.session_id, text=text))

    async def on_control(self, control: Control, ctx: Context) -> None:
        if control.action == "interrupt" and control.turn_id:
            self.interrupted.add(control.turn_id)
        elif control.action == "end":
            with contextlib.suppress(Exception):
                await self.conversation.forget(control.session_id)
