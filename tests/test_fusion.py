"""The fusion service over real NATS and Redis: the join, out-of-order events, the deadline, two
replicas sharing one session, the live estimate and the durable turn."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Any

import nats
import pytest
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg

from mrrrme import keys, subjects
from mrrrme.contracts import (
    ErrorEvent,
    FaceEmotion,
    FusedEmotion,
    TextEmotion,
    Transcript,
    Turn,
    VoiceEmotion,
    decode,
    encode,
    new_id,
    reading_from_probabilities,
)
from mrrrme.runtime import sync_with_server
from mrrrme.stack.infra import NatsServer, RedisServer
from services.fusion.service import FusionService
from services.fusion.settings import FusionSettings
from tests.mesh import Inbox, inbox

HAPPY = reading_from_probabilities([0.1, 0.8, 0.05, 0.05])
SAD = reading_from_probabilities([0.1, 0.05, 0.8, 0.05])


@contextlib.asynccontextmanager
async def fusion(
    nats_server: NatsServer, redis_server: RedisServer, replicas: int = 1, **settings: Any
) -> AsyncIterator[list[FusionService]]:
    services = [
        FusionService(FusionSettings(nats_url=nats_server.url, redis_url=redis_server.url, **settings))
        for _ in range(replicas)
    ]
    async with contextlib.AsyncExitStack() as stack:
        for service in services:
            await stack.enter_async_context(service)
        yield services


async def turns_of(nc: NATS, sid: str, count: int) -> list[Turn]:
    js = nc.jetstream()
    sub = await js.pull_subscribe(subjects.turn(sid), durable=f"t{sid}", stream=subjects.TURN_STREAM)
    msgs: list[Msg] = []
    try:
        async with asyncio.timeout(30):
            while len(msgs) < count:
                with contextlib.suppress(nats.errors.TimeoutError):
                    msgs += await sub.fetch(count - len(msgs), timeout=2)
        for msg in msgs:
            await msg.ack()
        with contextlib.suppress(TimeoutError, nats.errors.TimeoutError):
            extra = await sub.fetch(1, timeout=0.5)
            raise AssertionError(f"more turns than expected: {len(extra)}")
    finally:
        await sub.unsubscribe()
    return [decode(m.data, Turn) for m in msgs]


async def send(nc: NATS, subject: str, message: object) -> None:
    await nc.publish(subject, encode(message))  # type: ignore[arg-type]
    await sync_with_server(nc)


async def fused_or_state(fused: Inbox, redis_server: RedisServer, sid: str, uid: str) -> list[FusedEmotion]:
    """The fused event of a turn that only the deadline sweep can fuse; if none comes, what the join and
    the deadlines looked like (that state showed the lost events that `sync_with_server` now prevents)."""
    try:
        return await fused.wait_for(1, timeout=30)
    except AssertionError as missing:
        from redis.asyncio import Redis

        redis = Redis.from_url(redis_server.url)
        state = (
            await redis.zrange(keys.FUSION_DEADLINES, 0, -1, withscores=True),
            time.time(),
            await redis.hkeys(keys.fusion_utterance(sid, uid)),
            await redis.keys(keys.fusion_session_pattern(sid)),
        )
        await redis.aclose()
        raise AssertionError(f"{missing}; deadlines, now, join, keys: {state}") from None


def spoken(sid: str, uid: str, start: float, end: float) -> tuple[Transcript, VoiceEmotion, TextEmotion]:
    return (
        Transcript(session_id=sid, utterance_id=uid, text="I really had an awful week", started_at=start, ended_at=end),
        VoiceEmotion(session_id=sid, utterance_id=uid, reading=SAD, speech=True, started_at=start, ended_at=end),
        TextEmotion(session_id=sid, utterance_id=uid, reading=SAD),
    )


async def test_all_modalities_out_of_order_fuse_once_with_the_faces_of_the_utterance(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    sid, uid = "fus1", new_id()
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    now = time.time()
    async with fusion(own_nats_server, redis_server, live_interval_s=60):
        # A smiling face while speaking (inside the span) and a sad one long before (outside it).
        await send(
            own_nc,
            subjects.face_emotion(sid),
            FaceEmotion(session_id=sid, frame_seq=1, reading=SAD, quality=0.9, ts=now - 30),
        )
        await send(
            own_nc,
            subjects.face_emotion(sid),
            FaceEmotion(session_id=sid, frame_seq=2, reading=HAPPY, quality=0.9, ts=now - 1),
        )
        transcript, voice, text = spoken(sid, uid, now - 2, now)
        for event, subject in (
            (text, subjects.text_emotion(sid)),
            (voice, subjects.voice_emotion(sid)),
            (transcript, subjects.transcript(sid)),
        ):
            await send(own_nc, subject, event)
        (turn,) = await turns_of(own_nc, sid, 1)
        await fused.wait_for(1)
    (result,) = [f for f in fused.items if f.utterance_id == uid]
    assert result.face is not None and result.face.reading.emotion == "Happy"  # only the face inside the span
    assert result.face.weight == pytest.approx(0.4) and result.voice.weight == pytest.approx(0.3)
    assert result.emotion == "Sad" and result.masking and any("masking" in e for e in result.evidence)
    assert turn.turn_id == uid and turn.text == "I really had an awful week" and turn.fused == result


async def test_deadline_fuses_what_arrived(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    sid, uid = "fus2", new_id()
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    async with fusion(own_nats_server, redis_server, deadline_s=0.5):
        transcript, voice, _ = spoken(sid, uid, time.time() - 2, time.time())
        await send(own_nc, subjects.transcript(sid), transcript)
        await send(own_nc, subjects.voice_emotion(sid), voice)
        started = time.monotonic()
        (result,) = await fused_or_state(fused, redis_server, sid, uid)
        assert time.monotonic() - started >= 0.3  # it waited for the text emotion first
        (turn,) = await turns_of(own_nc, sid, 1)
    assert result.text is None and result.voice is not None and result.voice.weight == pytest.approx(1.0)
    assert turn.fused is not None and turn.fused.utterance_id == uid


async def test_a_transcript_later_than_the_deadline_still_makes_the_turn(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    """An overloaded recogniser: the voice emotion is in at once, the words come long after the deadline.
    The deadline counts from the words (the turn itself), so the person still gets an answer."""
    sid, uid = "fus5", new_id()
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    async with fusion(own_nats_server, redis_server, deadline_s=0.5):
        transcript, voice, text = spoken(sid, uid, time.time() - 2, time.time())
        await send(own_nc, subjects.voice_emotion(sid), voice)
        await asyncio.sleep(1.5)
        assert fused.items == []  # still waiting for the words
        await send(own_nc, subjects.transcript(sid), transcript)
        await send(own_nc, subjects.text_emotion(sid), text)
        (turn,) = await turns_of(own_nc, sid, 1)
    (result,) = fused.items
    assert turn.text == transcript.text and turn.fused == result
    assert result.voice is not None and result.text is not None


async def test_emotions_whose_transcript_never_comes_are_fused_without_a_turn(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    sid, uid = "fus6", new_id()
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    async with fusion(own_nats_server, redis_server, deadline_s=0.2, transcript_wait_s=1.0):
        _, voice, _ = spoken(sid, uid, time.time() - 2, time.time())
        await send(own_nc, subjects.voice_emotion(sid), voice)
        started = time.monotonic()
        (result,) = await fused_or_state(fused, redis_server, sid, uid)
        waited = time.monotonic() - started
        js = own_nc.jetstream()
        pending = (await js.stream_info(subjects.TURN_STREAM)).state.messages
    assert waited >= 0.8  # the transcript's wait, not the emotions' deadline
    assert result.utterance_id == uid and result.voice is not None and result.voice.weight == pytest.approx(1.0)
    assert pending == 0  # no words, no turn


async def test_words_with_no_reading_at_all_are_still_a_turn(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    """Typed text in a language the text model does not read, and no camera: nothing to fuse, but the
    person wrote something and gets an answer."""
    sid, uid = "fus7", new_id()
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    async with fusion(own_nats_server, redis_server, live_interval_s=60):
        typed = Transcript(session_id=sid, utterance_id=uid, text="Meine Woche war schwer", source="typed")
        await send(own_nc, subjects.transcript(sid), typed)
        await send(own_nc, subjects.text_emotion(sid), TextEmotion(session_id=sid, utterance_id=uid, reading=None))
        (turn,) = await turns_of(own_nc, sid, 1)
    assert turn.text == "Meine Woche war schwer" and turn.fused is None
    assert fused.items == []


async def test_two_replicas_sharing_one_session_fuse_each_utterance_exactly_once(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    sid = "fus3"
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    uids = [new_id() for _ in range(10)]
    async with fusion(own_nats_server, redis_server, replicas=2, deadline_s=1.0, live_interval_s=60):
        for uid in uids:
            for event, subject in zip(
                spoken(sid, uid, time.time() - 1, time.time()),
                (subjects.transcript(sid), subjects.voice_emotion(sid), subjects.text_emotion(sid)),
                strict=True,
            ):
                await send(own_nc, subject, event)
        await fused.wait_for(10)
        await asyncio.sleep(1.5)  # past the deadline: no second fusion may appear
        turns = await turns_of(own_nc, sid, 10)
    assert sorted(f.utterance_id for f in fused.items) == sorted(uids)
    assert sorted(t.turn_id for t in turns) == sorted(uids)


async def test_live_face_estimate_is_rate_limited(
    own_nats_server: NatsServer, redis_server: RedisServer, own_nc: NATS
) -> None:
    sid = "fus4"
    fused = await inbox(own_nc, subjects.fused_emotion(sid), FusedEmotion)
    async with fusion(own_nats_server, redis_server, live_interval_s=0.5):
        for seq in range(20):
            await send(
                own_nc,
                subjects.face_emotion(sid),
                FaceEmotion(session_id=sid, frame_seq=seq, reading=HAPPY, quality=0.8),
            )
            await asyncio.sleep(0.05)
        await asyncio.sleep(0.2)
    assert 2 <= len(fused.items) <= 3  # 1 s of faces at one estimate per 0.5 s
    assert all(f.utterance_id is None and f.emotion == "Happy" and f.face.weight == 1.0 for f in fused.items)


async def test_redis_away_is_one_log_line_a_clear_error_and_fusion_recovers_by_itself(
    own_nats_server: NatsServer, own_nc: NATS, caplog: pytest.LogCaptureFixture
) -> None:
    """Before: a traceback every 200 ms from the deadline sweep and `internal` errors for the client."""
    sid = "fus9"
    errors = await inbox(own_nc, subjects.error(sid), ErrorEvent)
    with RedisServer() as redis_server:
        async with fusion(own_nats_server, redis_server, live_interval_s=60):
            redis_server.kill()
            caplog.clear()
            typed = Transcript(session_id=sid, utterance_id=new_id(), text="is anyone there", source="typed")
            await send(own_nc, subjects.transcript(sid), typed)
            (error,) = await errors.wait_for(1)
            await asyncio.sleep(1.5)  # seven sweeps of the deadlines while Redis is away
            assert error.code == "service_unavailable"
            records = [r for r in caplog.records if r.name.startswith(("mrrrme", "services"))]
            assert [r.levelname for r in records] == ["WARNING"], [r.getMessage() for r in records]
            assert "unreachable" in records[0].getMessage() and not any(r.exc_info for r in caplog.records)
            redis_server.start()  # same port: the client reconnects by itself
            uid = new_id()
            typed = Transcript(session_id=sid, utterance_id=uid, text="hello again", source="typed")
            await send(own_nc, subjects.transcript(sid), typed)
            await send(own_nc, subjects.text_emotion(sid), TextEmotion(session_id=sid, utterance_id=uid, reading=None))
            (turn,) = await turns_of(own_nc, sid, 1)
    assert turn.text == "hello again"
    assert any("is back" in r.getMessage() for r in caplog.records)
