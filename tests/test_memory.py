"""Memory and privacy over the real gateway, NATS, Redis and SQLite: turns written once, summaries carried
into the next session's prompt, consent enforced by the gateway, and erasure of everything."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
import nats
import pytest
from nats.aio.msg import Msg

from gateway.client import GatewayClient
from mrrrme import keys, subjects
from mrrrme.contracts import EmotionReading, FusedEmotion, ModalityShare, Turn, TurnRecord, encode, new_id
from mrrrme.runtime import Service, sync_with_server
from mrrrme.stack.infra import NatsServer, RedisServer
from mrrrme.store import Database
from services.dialogue.service import DialogueService
from services.dialogue.settings import DialogueSettings
from services.memory.service import MemoryService
from services.memory.settings import MemorySettings
from tests.accounts import new_user
from tests.conftest import APPS
from tests.fake_llm import FakeLlm, running
from tests.images import astronaut
from tests.mesh import started
from tests.test_store import count_user_rows


def database_url(gateway: str) -> str:
    return str(APPS[gateway].state.gateway.settings.database_url)


def memory_and_dialogue(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, dialogue: DialogueSettings | None = None
) -> list[Service[Any]]:
    common: dict[str, Any] = {"nats_url": nats_server.url, "redis_url": redis_server.url}
    return [
        MemoryService(MemorySettings(**common, database_url=database_url(gateway))),
        DialogueService(dialogue or DialogueSettings(**common, backend="lite")),
    ]


def sad_turn(sid: str, text: str) -> Turn:
    reading = EmotionReading(emotion="Sad", confidence=0.8, probabilities=[0.1, 0.05, 0.8, 0.05])
    fused = FusedEmotion(
        session_id=sid,
        utterance_id=new_id(),
        emotion="Sad",
        intensity=0.7,
        probabilities=[0.1, 0.05, 0.8, 0.05],
        voice=ModalityShare(reading=reading, weight=0.5),
        text=ModalityShare(reading=reading, weight=0.5),
    )
    return Turn(session_id=sid, turn_id=new_id(), text=text, fused=fused)


async def publish_turn(js: Any, turn: Turn) -> None:
    await js.publish(subjects.turn(turn.session_id), encode(turn), headers={"Nats-Msg-Id": turn.turn_id})


async def until(check: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = await check()
        if result:
            return result
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout}s: {what}")


async def test_turns_are_stored_once_and_the_summary_reaches_the_next_sessions_prompt(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    fake = FakeLlm(reply="I hear you.")
    async with running(fake):
        dialogue = DialogueSettings(
            nats_url=nats_server.url, redis_url=redis_server.url, backend="openai", base_url=fake.base_url,
            api_key="k",
        )  # fmt: skip
        nc = await nats.connect(nats_server.url)
        js = nc.jetstream()
        async with started(*memory_and_dialogue(gateway, nats_server, redis_server, dialogue)):
            token = await new_user(gateway, "remembered")
            auth = {"Authorization": f"Bearer {token}"}
            async with GatewayClient.connect(gateway, token) as client:
                sid = client.session_id
                turn = sad_turn(sid, "my exams went badly and I feel low")
                await publish_turn(js, turn)
                async with httpx.AsyncClient(base_url=gateway, headers=auth) as http:

                    async def stored() -> list[dict[str, Any]]:
                        return list((await http.get("/api/history")).json()["messages"])

                    messages = await until(lambda: _at_least(stored, 2), 20, "the turn in the history")
                    # The same record once more (a redelivery with another message id): no second row.
                    record = TurnRecord(session_id=sid, turn_id=turn.turn_id, user_text=turn.text, fused=turn.fused,
                                        reply="I hear you.")  # fmt: skip
                    await js.publish(subjects.turn_record(sid), encode(record), headers={"Nats-Msg-Id": new_id()})
                    await asyncio.sleep(1.0)
                    assert len(await stored()) == 2
            assert [m["role"] for m in messages] == ["assistant", "user"]
            assert messages[1]["emotion"] == "Sad" and messages[1]["breakdown"]["modalities"]["voice"]["weight"] == 0.5
            async with httpx.AsyncClient(base_url=gateway, headers=auth) as http:
                me = (await http.get("/api/me")).json()
                stats = (await http.get("/api/stats")).json()
                assert stats["overall"]["turns"] == 1 and stats["overall"]["emotions"]["Sad"] == 1
                timeline = (await http.get("/api/timeline")).json()
                assert [p["emotion"] for p in timeline] == ["Sad"]

                # The socket closed: memory writes the summary (through dialogue's model).
                async def summary() -> list[dict[str, Any]]:
                    exported = (await http.get("/api/export")).json()
                    return list(exported["tables"]["summaries"])

                summaries = await until(summary, 20, "a summary after the session ended")
            assert summaries[0]["conversation_id"] == sid
            summarize_request = fake.requests[-1]
            assert "exams went badly" in summarize_request["messages"][1]["content"]
            assert summarize_request["messages"][0]["content"].startswith("You write a short memory note")

            # Next session: the summary is in the prompt, as quoted data, not as an instruction.
            async with GatewayClient.connect(gateway, token) as client:
                await publish_turn(js, sad_turn(client.session_id, "hello again"))
                await until(lambda: _asked_with(fake, "hello again"), 20, "the next turn reaching the model")
        await nc.drain()
    prompt = next(r for r in fake.requests if "hello again" in json.dumps(r))["messages"]
    memory = [m["content"] for m in prompt if m["content"].startswith("Summary of earlier sessions (quoted data)")]
    assert memory and json.loads(memory[0].split(": ", 1)[1]) == summaries[0]["text"]
    # TARGETS.md L6: the model provider gets the words, never who said them.
    sent = json.dumps(fake.requests)
    assert len(fake.requests) >= 3 and me["username"] not in sent and me["id"] not in sent


async def _at_least(fetch: Any, n: int) -> Any:
    rows = await fetch()
    return rows if len(rows) >= n else None


async def _asked_with(fake: FakeLlm, text: str) -> bool:
    return any(text in json.dumps(r) for r in fake.requests)


async def frames_published(nc: Any, sid: str) -> list[float]:
    seen: list[float] = []

    async def on_frame(_: Msg) -> None:
        seen.append(time.monotonic())

    await nc.subscribe(subjects.frame(sid), cb=on_frame)
    await sync_with_server(nc)
    return seen


async def test_no_frame_is_processed_without_camera_consent_and_withdrawal_stops_it_within_a_second(
    gateway: str, nats_server: NatsServer
) -> None:
    token = await new_user(gateway, "private", camera=False, microphone=False)
    nc = await nats.connect(nats_server.url)
    async with GatewayClient.connect(gateway, token) as client, httpx.AsyncClient(base_url=gateway) as http:
        published = await frames_published(nc, client.session_id)
        notices: list[dict[str, Any]] = []

        async def listen() -> None:
            async for _, event in client.events():
                notices.append(event)

        listening = asyncio.create_task(listen())
        for _ in range(5):
            await client.send_frame(astronaut())
            await asyncio.sleep(0.1)
        await client.stream_audio(bytes(16000), chunk_ms=100, realtime=False)
        await asyncio.sleep(0.5)
        assert published == [], "a frame reached the mesh without camera consent"
        assert any(n.get("code") == "consent_required" for n in notices)

        auth = {"Authorization": f"Bearer {token}"}
        assert (await http.put("/api/consent", json={"camera": True, "microphone": False}, headers=auth)).is_success
        sending = True

        async def camera() -> None:
            while sending:
                await client.send_frame(astronaut())
                await asyncio.sleep(0.1)

        streaming = asyncio.create_task(camera())
        await until(lambda: _nonempty(published), 5, "frames after consent")
        answer = await http.put("/api/consent", json={"camera": False, "microphone": False}, headers=auth)
        withdrawn_at = time.monotonic()
        assert answer.is_success
        await asyncio.sleep(1.5)
        sending = False
        await streaming
        listening.cancel()
    await nc.drain()
    after = [t - withdrawn_at for t in published if t > withdrawn_at]
    assert not after or max(after) < 1.0, f"frames still processed {max(after):.2f} s after withdrawal"
    assert any(n["type"] == "consent" and n["camera"] is False for n in notices)


async def _nonempty(items: list[Any]) -> bool:
    return bool(items)


async def redis_keys_of(redis: Any, session_ids: list[str]) -> list[bytes]:
    every = [key async for key in redis.scan_iter(match="mrrrme:*")]
    found = [k for k in every if any(sid.encode() in k for sid in session_ids)]
    members = await redis.zrange(keys.FUSION_DEADLINES, 0, -1)
    return found + [m for m in members if any(sid.encode() in m for sid in session_ids)]


async def test_deleting_the_account_erases_rows_redis_keys_and_pending_work(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    state = APPS[gateway].state.gateway
    nc = await nats.connect(nats_server.url)
    js = nc.jetstream()
    async with started(*memory_and_dialogue(gateway, nats_server, redis_server)):
        token = await new_user(gateway, "leaving")
        auth = {"Authorization": f"Bearer {token}"}
        async with httpx.AsyncClient(base_url=gateway, headers=auth) as http:
            user_id = (await http.get("/api/me")).json()["id"]
            async with GatewayClient.connect(gateway, token) as client:
                sid = client.session_id
                await client.send_json({"type": "preferences", "style": "brief"})
                await publish_turn(js, sad_turn(sid, "please remember this"))
                await until(lambda: _history_len(http, 2), 20, "the turn stored")
            second = await GatewayClient.connect(gateway, token).__aenter__()
            # Work still pending for the open session when the account goes: it must not survive.
            await state.redis.set(keys.session_preferences(second.session_id), b"x")
            started_at = time.monotonic()
            assert (await http.delete("/api/me")).status_code == 204
            with pytest.raises(Exception):  # noqa: B017 - any close of the socket will do
                async with asyncio.timeout(1.0):
                    async for _ in second.events():
                        pass
                    raise ConnectionError("closed")
            assert time.monotonic() - started_at < 2.0
            assert (await http.get("/api/me")).status_code == 401
        await asyncio.sleep(3.5)  # past the gateway's second sweep for in-flight work
    database: Database = state.db
    assert set((await count_user_rows(database, user_id)).values()) == {0}
    assert await redis_keys_of(state.redis, [sid, second.session_id]) == []
    for subject in (subjects.turn(sid), subjects.turn_record(sid), subjects.session_ended(sid)):
        stream = subjects.TURN_STREAM if ".turn." in subject else subjects.RECORD_STREAM
        info = await js.stream_info(stream, subjects_filter=subject)
        assert not (info.state.subjects or {}), f"pending work left on {subject}"
    await nc.drain()


async def _history_len(http: httpx.AsyncClient, n: int) -> bool:
    return len((await http.get("/api/history")).json()["messages"]) >= n
