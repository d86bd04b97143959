"""The per-utterance join in Redis, so any fusion replica can take any event of any session.

Its keys are built in `mrrrme/keys.py` (all expire, `state_ttl_s`): the utterance's join (a hash of
transcript / voice / text), the session's recent faces, the once-only claim of an utterance, the live
estimate's rate limit, the session's preferences, and the shared sorted set of deadlines ("sid uid" by
deadline: `deadline_s` after the transcript, or `transcript_wait_s` after the first part while there is
none): every replica sweeps it, so a turn whose modalities never all arrive is fused even if its first
replica died.
"""

from __future__ import annotations

import time
from typing import Any

import msgspec
from redis.asyncio import Redis

from mrrrme import keys
from mrrrme.contracts import EmotionReading, Preferences, TextEmotion, Transcript, VoiceEmotion, decode, encode

MAX_FACES = 300
CLAIM_LEASE_S = 10
"""Seconds a replica has to fuse an utterance it claimed before another may."""


class FaceSample(msgspec.Struct, frozen=True, array_like=True):
    ts: float
    reading: EmotionReading
    quality: float
    duchenne: float | None = None


class Joined(msgspec.Struct, frozen=True):
    transcript: Transcript | None
    voice: VoiceEmotion | None
    text: TextEmotion | None
    trace: str = ""
    """The `traceparent` of the handler that stored the first part: a turn fused by the deadline sweep
    (no unit in hand) continues the utterance's trace from it instead of starting a new one."""

    @property
    def complete(self) -> bool:
        """Everything that will come has come: an empty transcript means no text emotion will."""
        if self.transcript is None or self.voice is None:
            return False
        return self.text is not None or not self.transcript.text.strip()


class FusionState:
    def __init__(self, redis: Redis, ttl_s: int) -> None:
        # redis-py's return types are unions of every reply type; this client returns bytes.
        self.redis: Any = redis
        self.ttl_s = ttl_s

    @staticmethod
    def _utterance(sid: str, uid: str) -> str:
        return keys.fusion_utterance(sid, uid)

    async def add(
        self,
        sid: str,
        uid: str,
        field: str,
        event: msgspec.Struct,
        deadline_s: float,
        transcript_wait_s: float,
        trace: str = "",
    ) -> Joined:
        """Store one part of the utterance and (re)set its deadline.

        The transcript is the turn itself, so the deadline counts from its arrival: the emotions get
        `deadline_s` after it to come in. Until it arrives, the utterance waits up to `transcript_wait_s`
        (an overloaded recogniser is late, and a late turn is better than a lost one)."""
        key = self._utterance(sid, uid)
        member = keys.deadline_member(sid, uid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, field, encode(event))
            if trace:
                pipe.hsetnx(key, "trace", trace)
            pipe.expire(key, self.ttl_s)
            if field == "transcript":
                pipe.zadd(keys.FUSION_DEADLINES, {member: time.time() + deadline_s})
            else:
                pipe.zadd(keys.FUSION_DEADLINES, {member: time.time() + transcript_wait_s}, nx=True)
            pipe.hgetall(key)
            results = await pipe.execute()
        return self._joined(results[-1])

    async def joined(self, sid: str, uid: str) -> Joined:
        return self._joined(await self.redis.hgetall(self._utterance(sid, uid)))

    @staticmethod
    def _joined(raw: dict[bytes, bytes]) -> Joined:
        def get(field: str, schema: type[msgspec.Struct]) -> msgspec.Struct | None:
            data = raw.get(field.encode())
            return decode(data, schema) if data is not None else None

        return Joined(
            transcript=get("transcript", Transcript),  # type: ignore[arg-type]
            voice=get("voice", VoiceEmotion),  # type: ignore[arg-type]
            text=get("text", TextEmotion),  # type: ignore[arg-type]
            trace=raw.get(b"trace", b"").decode(),
        )

    async def claim(self, sid: str, uid: str) -> bool:
        """True for exactly one caller across all replicas: that one fuses the utterance. The claim is a
        lease of `CLAIM_LEASE_S` until `fused` confirms it: a replica killed between the claim and the
        turn's publication leaves the utterance to be fused again when its transcript comes again (the
        gateway re-sends typed text until the reply comes)."""
        claimed = await self.redis.set(keys.fusion_done(sid, uid), b"1", nx=True, ex=CLAIM_LEASE_S)
        await self.redis.zrem(keys.FUSION_DEADLINES, keys.deadline_member(sid, uid))
        return bool(claimed)

    async def fused(self, sid: str, uid: str) -> None:
        """The turn is on JetStream: the utterance is never fused again."""
        await self.redis.set(keys.fusion_done(sid, uid), b"1", ex=self.ttl_s)

    async def overdue(self) -> list[tuple[str, str]]:
        members = await self.redis.zrangebyscore(keys.FUSION_DEADLINES, "-inf", time.time(), start=0, num=100)
        return [keys.member_parts(m) for m in members]

    async def add_face(self, sid: str, sample: FaceSample) -> None:
        key = keys.fusion_faces(sid)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, encode(sample))
            pipe.ltrim(key, 0, MAX_FACES - 1)
            pipe.expire(key, self.ttl_s)
            await pipe.execute()

    async def faces(self, sid: str, start: float, end: float) -> list[FaceSample]:
        raw = await self.redis.lrange(keys.fusion_faces(sid), 0, MAX_FACES - 1)
        samples = [msgspec.msgpack.decode(item, type=FaceSample) for item in raw]
        return [s for s in samples if start <= s.ts <= end]

    async def live_slot(self, sid: str, interval_s: float) -> bool:
        return bool(await self.redis.set(keys.fusion_live(sid), b"1", nx=True, px=int(interval_s * 1000)))

    async def set_preferences(self, sid: str, preferences: Preferences) -> None:
        await self.redis.set(keys.session_preferences(sid), encode(preferences), ex=self.ttl_s * 12)

    async def preferences(self, sid: str) -> Preferences:
        data = await self.redis.get(keys.session_preferences(sid))
        return decode(data, Preferences) if data else Preferences()

    async def forget(self, sid: str) -> None:
        found = [key async for key in self.redis.scan_iter(match=keys.fusion_session_pattern(sid))]
        await self.redis.delete(*found, keys.session_preferences(sid))
