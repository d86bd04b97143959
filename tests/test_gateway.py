"""The gateway's WebSocket against a real nats-server and Redis: isolation, bad input, hardening."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import msgspec
import pytest
import websockets
from nats.aio.client import Client as NATS
from nats.aio.msg import Msg
from websockets.asyncio.client import ClientConnection

from gateway.client import GatewayClient
from gateway.protocol import KIND_AUDIO, KIND_VIDEO, pack_binary
from mrrrme import subjects
from mrrrme.contracts import (
    Control,
    EmotionReading,
    FaceEmotion,
    Frame,
    Transcript,
    Turn,
    Utterance,
    decode,
    encode,
)
from mrrrme.runtime import sync_with_server
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import new_user
from tests.conftest import gateway_settings, running_gateway
from tests.speech import sentences_with_pauses
from tests.workers.echo import EchoService, EchoSettings

TINY_JPEG = bytes.fromhex(
    "ffd8ffe000104a46494600010100000100010000ffdb004300080606070605080707070909080a0c140d0c0b0b0c1912130f141d"
    "1a1f1e1d1a1c1c20242e2720222c231c1c2837292c30313434341f27393d38323c2e333432ffc0000b080001000101011100ffc4"
    "001f0000010501010101010100000000000000000102030405060708090a0bffc400b5100002010303020403050504040000017d"
    "01020300041105122131410613516107227114328191a1082342b1c11552d1f02433627282090a161718191a25262728292a3435"
    "363738393a434445464748494a535455565758595a636465666768696a737475767778797a838485868788898a92939495969798"
    "999aa2a3a4a5a6a7a8a9aab2b3b4b5b6b7b8b9bac2c3c4c5c6c7c8c9cad2d3d4d5d6d7d8d9dae1e2e3e4e5e6e7e8e9eaf1f2f3f4"
    "f5f6f7f8f9faffda0008010100003f00fbfcffd9"
)


async def login(url: str, user: str) -> str:
    return await new_user(url, user)


def ws_url(url: str) -> str:
    return url.replace("http://", "ws://") + "/ws"


class Subscription:
    """Everything published on a subject pattern, decoded."""

    def __init__(self, schema: type[msgspec.Struct]) -> None:
        self.schema = schema
        self.items: list[Any] = []

    async def collect(self, msg: Msg) -> None:
        self.items.append(decode(msg.data, self.schema))

    async def wait_for(self, count: int, timeout: float = 30.0) -> None:
        async with asyncio.timeout(timeout):
            while len(self.items) < count:
                await asyncio.sleep(0.01)


async def subscribe(nc: NATS, subject: str, schema: type[msgspec.Struct]) -> Subscription:
    sub = Subscription(schema)
    await nc.subscribe(subject, cb=sub.collect)
    await sync_with_server(nc)
    return sub


async def next_of(client: GatewayClient, kind: str, timeout: float = 5.0) -> dict[str, Any]:
    async with asyncio.timeout(timeout):
        while True:
            event = await client.receive()
            if event["type"] == kind:
                return event


async def closed_with(ws: ClientConnection, timeout: float = 5.0) -> tuple[int | None, list[dict[str, Any]]]:
    """Read until the server closes; return the close code and every message before it."""
    seen: list[dict[str, Any]] = []
    try:
        async with asyncio.timeout(timeout):
            async for raw in ws:
                seen.append(json.loads(raw))
    except websockets.exceptions.ConnectionClosed:
        pass
    return ws.close_code, seen


@pytest.fixture()
async def two_clients(gateway: str) -> AsyncIterator[tuple[GatewayClient, GatewayClient]]:
    async with (
        GatewayClient.connect(gateway, await login(gateway, "alice")) as alice,
        GatewayClient.connect(gateway, await login(gateway, "bob")) as bob,
    ):
        yield alice, bob


async def test_two_clients_receive_only_their_own_sessions_events(
    two_clients: tuple[GatewayClient, GatewayClient], nc: NATS
) -> None:
    alice, bob = two_clients
    assert alice.session_id != bob.session_id
    frames = await subscribe(nc, subjects.ALL_FRAMES, Frame)
    await alice.send_frame(TINY_JPEG)
    await frames.wait_for(1)
    assert frames.items[0].session_id == alice.session_id and frames.items[0].width == 1

    reading = EmotionReading(emotion="Happy", confidence=0.9, probabilities=[0.05, 0.9, 0.03, 0.02])
    face = FaceEmotion(session_id=alice.session_id, frame_seq=1, reading=reading, quality=0.8, faces=1)
    await nc.publish(subjects.face_emotion(alice.session_id), encode(face))
    words = Transcript(session_id=bob.session_id, utterance_id="u1", text="hello bob")
    await nc.publish(subjects.transcript(bob.session_id), encode(words))

    event = await next_of(alice, "face_emotion")
    assert event["emotion"] == "Happy" and event["probabilities"][1] == pytest.approx(0.9)
    event = await next_of(bob, "transcript")
    assert event["text"] == "hello bob"
    # Neither got the other's event: the next thing each receives is its own pong.
    for client in (alice, bob):
        await client.send_json({"type": "ping"})
        assert (await client.receive(timeout=5))["type"] == "pong"


async def test_bad_messages_get_clear_errors_and_the_other_client_is_untouched(
    two_clients: tuple[GatewayClient, GatewayClient], nc: NATS
) -> None:
    alice, bob = two_clients
    frames = await subscribe(nc, subjects.ALL_FRAMES, Frame)
    cases: list[tuple[Any, str]] = [
        ("{not json", "malformed_json"),
        (json.dumps([1, 2]), "invalid_message"),
        (json.dumps({"type": "launch_rockets"}), "unknown_type"),
        (json.dumps({"type": "audio_chunk", "audio": "***not base64***"}), "invalid_base64"),
        (json.dumps({"type": "audio_chunk", "audio": 42}), "invalid_message"),
        (
            json.dumps({"type": "audio_chunk", "audio": base64.b64encode(b"\x01\x02\x03").decode()}),
            "invalid_audio",
        ),
        (json.dumps({"type": "video_frame", "frame": "data:image/png;base64,AAAA"}), "invalid_frame"),
        (
            json.dumps(
                {
                    "type": "video_frame",
                    "frame": "data:image/jpeg;base64," + base64.b64encode(TINY_JPEG[:-40]).decode(),
                }
            ),
            "corrupt_jpeg",
        ),
        (pack_binary(KIND_VIDEO, 1, 0, b"\xff\xd8" + b"garbage" * 20 + b"\xff\xd9"), "corrupt_jpeg"),
        (pack_binary(9, 1, 0, b"x"), "invalid_binary"),
        (b"short", "invalid_binary"),
        (json.dumps({"type": "preferences", "personality": "pirate"}), "invalid_message"),
    ]
    for message, code in cases:
        await alice.ws.send(message)
        event = await next_of(alice, "error")
        assert event["code"] == code, (message, event)
        assert event["message"]
    assert frames.items == [], "nothing invalid may enter the mesh"

    await alice.ws.send(json.dumps({"type": "video_frame", "frame": "x" * (2 * 1024 * 1024)}))
    close_code, _ = await closed_with(alice.ws)
    assert close_code == 1009

    await bob.send_frame(TINY_JPEG)
    await frames.wait_for(1)
    await bob.send_json({"type": "ping"})
    assert (await next_of(bob, "pong"))["type"] == "pong"


async def test_a_large_but_allowed_message_of_the_wrong_kind_closes_1009(gateway: str) -> None:
    async with GatewayClient.connect(gateway, await login(gateway, "carol")) as client:
        await client.send_audio(bytes(40 * 1024))  # over the 32 KiB audio chunk limit
        code, seen = await closed_with(client.ws)
        assert code == 1009
        assert any(e["type"] == "error" and e["code"] == "too_big" for e in seen)


async def test_media_before_auth_closes_4001_and_nothing_is_published(gateway: str, nc: NATS) -> None:
    frames = await subscribe(nc, subjects.ALL_FRAMES, Frame)
    utterances = await subscribe(nc, subjects.ALL_UTTERANCES, Utterance)
    for first in (
        pack_binary(KIND_VIDEO, 1, 0, TINY_JPEG),
        pack_binary(KIND_AUDIO, 1, 0, bytes(640)),
        json.dumps({"type": "video_frame", "frame": "data:image/jpeg;base64," + base64.b64encode(TINY_JPEG).decode()}),
    ):
        async with websockets.connect(ws_url(gateway), origin=gateway) as ws:  # type: ignore[arg-type]
            await ws.send(first)
            code, seen = await closed_with(ws)
            assert code == 4001
            assert seen[-1]["code"] == "auth_required"
    await asyncio.sleep(0.2)
    assert frames.items == [] and utterances.items == []


async def test_invalid_token_and_missed_deadline_close_4001(nats_server: NatsServer, redis_server: RedisServer) -> None:
    settings = gateway_settings(nats_server, redis_server, auth_deadline_s=0.5)
    async with running_gateway(settings) as url:
        async with websockets.connect(ws_url(url), origin=url) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "auth", "token": "forged"}))
            code, seen = await closed_with(ws)
            assert code == 4001 and seen[-1]["code"] == "invalid_token"
        async with websockets.connect(ws_url(url), origin=url) as ws:  # type: ignore[arg-type]
            loop = asyncio.get_running_loop()
            started = loop.time()
            code, _ = await closed_with(ws)
            assert code == 4001
            assert loop.time() - started < 2.0


@pytest.mark.parametrize(
    "origin",
    [
        None,
        "null",
        "https://evil.example",
        "http://localhost:{port}.evil.example",
        "https://localhost:{port}",
    ],
)
async def test_disallowed_origins_are_refused_with_403_before_accept(gateway: str, origin: str | None) -> None:
    port = gateway.rsplit(":", 1)[1]
    headers = {"Origin": origin.format(port=port)} if origin else {}
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(ws_url(gateway), additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403


async def test_allowed_origin_is_accepted_and_compression_is_never_negotiated(gateway: str) -> None:
    async with websockets.connect(ws_url(gateway), origin=gateway, compression="deflate") as ws:  # type: ignore[arg-type]
        assert ws.response is not None
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


async def test_a_flood_is_dropped_then_closed_1008(gateway: str) -> None:
    async with GatewayClient.connect(gateway, await login(gateway, "flood")) as client:
        for _ in range(200):
            try:
                await client.send_json({"type": "ping"})
            except websockets.exceptions.ConnectionClosed:
                break
        code, seen = await closed_with(client.ws)
        assert code == 1008
        assert any(e.get("code") == "rate_limited" for e in seen)


async def test_idle_socket_is_closed(nats_server: NatsServer, redis_server: RedisServer) -> None:
    settings = gateway_settings(nats_server, redis_server, idle_timeout_s=0.5)
    async with (
        running_gateway(settings) as url,
        GatewayClient.connect(url, await login(url, "idle")) as client,
    ):
        code, _ = await closed_with(client.ws)
        assert code == 1000
        assert client.ws.close_reason == "idle timeout"


async def test_speech_is_cut_into_utterances_and_typed_text_becomes_a_transcript(gateway: str, nc: NATS) -> None:
    # Pauses longer than the model rule's 1.6 s limit: two utterances whatever Smart Turn makes of the first
    # sentence (on this synthesized "how are you?" it answers near its threshold, either way: piper samples its
    # prosody, so each run's audio differs a little).
    audio = sentences_with_pauses(["Hello there, how are you?", "I am feeling a little tired today."], pause_s=2.0)
    async with GatewayClient.connect(gateway, await login(gateway, "speaker")) as client:
        utterances = await subscribe(nc, subjects.utterance(client.session_id), Utterance)
        transcripts = await subscribe(nc, subjects.transcript(client.session_id), Transcript)
        await client.stream_audio(audio.tobytes(), chunk_ms=500, realtime=False)  # within the burst
        await utterances.wait_for(2)
        await client.send_json({"type": "speech_end", "text": "  I typed this  "})
        await transcripts.wait_for(1)
    assert [len(u.pcm) / 32000 > 1.0 for u in utterances.items] == [True, True]
    assert all(u.language == "en" and u.ended_at > u.started_at for u in utterances.items)
    assert transcripts.items[0].text == "I typed this" and transcripts.items[0].source == "typed"


async def test_preferences_are_validated_and_broadcast_as_control(gateway: str, nc: NATS) -> None:
    async with GatewayClient.connect(gateway, await login(gateway, "prefs")) as client:
        controls = await subscribe(nc, subjects.control(client.session_id), Control)
        await client.send_json({"type": "preferences", "personality": "coach", "style": "brief"})
        event = await next_of(client, "preferences")
        assert event["personality"] == "coach" and event["style"] == "brief" and event["voice"] == "female"
        await controls.wait_for(1)
        assert controls.items[0].preferences.personality == "coach"


async def test_health_lists_every_running_service_with_its_readiness(gateway: str, nats_server: NatsServer) -> None:
    import httpx

    from tests.test_gateway_hardening import make_admin

    admin = {"Authorization": f"Bearer {await make_admin(gateway)}"}
    async with EchoService(EchoSettings(nats_url=nats_server.url)), httpx.AsyncClient() as http:
        public = (await http.get(f"{gateway}/health")).json()
        body = (await http.get(f"{gateway}/health", headers=admin)).json()
    # Anyone sees readiness per service; an admin also sees each replica and the gateway's own state.
    assert public["status"] == "ok" and public["services"]["echo"] == {"replicas": 1, "ready": 1}
    assert body["status"] == "ok" and body["gateway"]["nats"] and body["gateway"]["redis"]
    assert body["services"]["echo"]["ready"] == 1 and body["services"]["echo"]["instances"][0]["ready"]


async def test_greeting_without_a_dialogue_service_is_queued_and_said_so(gateway: str, nc: NATS) -> None:
    async with GatewayClient.connect(gateway, await login(gateway, "greeter")) as client:
        await client.send_json({"type": "request_greeting"})
        event = await next_of(client, "error")
        assert event["code"] == "service_unavailable"
        # Read it straight from the stream: a consumer here would compete with dialogue's on the work queue.
        stored = await nc.jetstream().get_last_msg(subjects.TURN_STREAM, subjects.turn(client.session_id))
        assert stored.data is not None and decode(stored.data, Turn).kind == "greeting"
