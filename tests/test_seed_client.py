"""The seed's own client against this gateway: WebM/Opus `audio_chunk`s from MediaRecorder in, `llm_response`
with ARKit `visemes` and a fetchable `audio_url` out (docs/protocol.md, *Seed client*).

The units first (the streaming demuxer and decoder, the blendshape mapping, the audio store), then the
whole conversation with the messages exactly as the seed's README shows them.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import logging
import re
import wave
from typing import Any

import av
import httpx
import numpy as np
import pytest
import websockets
from websockets.typing import Origin

from gateway import seed, server_events
from gateway.opus import OggDemuxer, Recording, RecordingLimits, WebmDemuxer, opus_samples, sniff
from gateway.protocol import ProtocolError
from gateway.reply_audio import PATH, RedactReplyAudio, ReplyAudioStore
from gateway.server_events import LlmResponse, Viseme
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import new_user
from tests.images import astronaut
from tests.mesh import started
from tests.speech import SAMPLE_RATE, sentences_with_pauses, synthesize

LIMITS = RecordingLimits(max_chunk_bytes=64 * 1024, bytes_per_s=1e9, seconds_per_s=1e9)


def encode(pcm: np.ndarray, container: str = "webm", cluster_ms: int = 1000) -> bytes:
    """16 kHz PCM16 as a browser recording: Opus at 48 kHz in WebM (live: unknown Segment size, a Cluster
    a second, as MediaRecorder writes) or Ogg."""
    buffer = io.BytesIO()
    options = {"live": "1", "cluster_time_limit": str(cluster_ms)} if container == "webm" else {}
    with av.open(buffer, "w", format=container, options=options) as out:
        stream = out.add_stream("libopus", rate=48000, layout="mono")
        frame = av.AudioFrame.from_ndarray(pcm.astype(np.int16).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    return buffer.getvalue()


def chunks(data: bytes, size: int) -> list[bytes]:
    """A recording cut into MediaRecorder-like timeslices."""
    return [data[i : i + size] for i in range(0, len(data), size)]


def decode_all(recording: Recording, parts: list[bytes]) -> bytes:
    out = []
    for part in parts:
        assert recording.claims(part)
        out.append(recording.decode(part))
    return b"".join(out)


def tone(seconds: float, hz: float = 220.0) -> np.ndarray:
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return (8000 * np.sin(2 * np.pi * hz * t)).astype(np.int16)


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Best normalised correlation of two signals over small shifts (Opus delays by a few ms)."""
    best = 0.0
    for shift in range(0, 400, 4):
        x, y = a[shift : shift + len(b)].astype(float), b[: len(a) - shift].astype(float)
        n = min(len(x), len(y))
        best = max(best, float(np.corrcoef(x[:n], y[:n])[0, 1]))
    return best


# --- the decoder ---------------------------------------------------------------------------------


@pytest.mark.parametrize("container", ["webm", "ogg"])
@pytest.mark.parametrize("size", [1, 997, 16_000])
def test_a_recording_cut_anywhere_decodes_to_the_same_16k_audio(container: str, size: int) -> None:
    speech = synthesize("Hello, how are you today?")
    data = encode(speech, container)
    assert sniff(data[:66]) == container
    recording = Recording(LIMITS)
    pcm = np.frombuffer(decode_all(recording, chunks(data, size if size > 1 else 101)), dtype="<i2")
    assert abs(len(pcm) - len(speech)) < 0.05 * SAMPLE_RATE  # within Opus's pre-skip and padding
    assert correlation(pcm, speech) > 0.8


def test_the_live_webm_has_unknown_sizes_and_several_clusters() -> None:
    data = encode(tone(3.0))
    assert b"\x18\x53\x80\x67\x01\xff\xff\xff\xff\xff\xff\xff" in data  # Segment of unknown size
    assert data.count(bytes.fromhex("1f43b675")) >= 3


def test_pcm_is_never_taken_for_a_recording() -> None:
    recording = Recording(LIMITS)
    rng = np.random.default_rng(1)
    for _ in range(200):
        pcm = rng.integers(-32768, 32767, 800, dtype=np.int16).tobytes()
        assert not recording.claims(pcm)
    assert not recording.claims(tone(0.5).tobytes())
    # Starting with the EBML magic alone is not enough: a DocType must say webm.
    assert sniff(bytes.fromhex("1a45dfa3") + bytes(60)) is None
    assert sniff(b"OggS" + bytes(60)) is None


def test_corrupt_data_is_a_clear_error_and_the_stream_resynchronises_at_the_next_cluster() -> None:
    data = encode(tone(4.0))
    clusters = [m.start() for m in re.finditer(re.escape(bytes.fromhex("1f43b675")), data)]
    recording = Recording(LIMITS)
    first = decode_all(recording, chunks(data[: clusters[1] + 50], 4000))
    garbage = b"\x00\x13garbage" * 40
    assert recording.claims(garbage)
    with pytest.raises(ProtocolError) as refused:
        recording.decode(garbage)
    assert refused.value.code == "corrupt_audio" and "webm" in refused.value.message
    rest = decode_all(recording, chunks(data[clusters[1] + 50 :], 4000))
    # Everything from the third cluster on is back: at least the last two of four seconds.
    assert len(first) > 0 and len(rest) / 2 / SAMPLE_RATE > 1.5


def test_a_stream_joined_mid_way_decodes_from_its_next_cluster() -> None:
    speech = synthesize("I joined this recording half way through it.")
    data = encode(speech)
    recording = Recording(LIMITS)
    assert recording.claims(data[:200])  # the header: recording detected
    recording.reset()  # ... as after consent withdrawn: the decoder is gone, the container is remembered
    later = data[len(data) // 3 :]
    pcm = np.frombuffer(decode_all(recording, chunks(later, 1500)), dtype="<i2")
    assert 0.2 * SAMPLE_RATE < len(pcm) < len(speech)


def test_ogg_with_garbage_resynchronises_at_the_next_page() -> None:
    data = encode(tone(2.0), "ogg")
    cut = [m.start() for m in re.finditer(b"OggS", data)][3]  # between two pages
    demuxer = OggDemuxer()
    packets = demuxer.feed(data[:cut])
    with pytest.raises(Exception, match="not an Ogg page"):
        demuxer.feed(b"rubbish" * 10)
    packets += demuxer.feed(data[cut:])
    assert demuxer.opus_head is not None and demuxer.opus_head.startswith(b"OpusHead")
    assert len(packets) > 50 and all(opus_samples(p) == 960 for p in packets)


def test_not_an_opus_recording_is_refused() -> None:
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="matroska") as out:  # Safari's MediaRecorder writes AAC, say
        stream = out.add_stream("pcm_s16le", rate=16000, layout="mono")
        frame = av.AudioFrame.from_ndarray(tone(0.5).reshape(1, -1), format="s16", layout="mono")
        frame.sample_rate = SAMPLE_RATE
        for packet in [*stream.encode(frame), *stream.encode(None)]:
            out.mux(packet)
    demuxer = WebmDemuxer()
    with pytest.raises(Exception, match="no Opus track"):
        demuxer.feed(buffer.getvalue())


def test_size_and_rate_limits_of_encoded_audio() -> None:
    data = encode(tone(10.0))
    small = Recording(RecordingLimits(max_chunk_bytes=1000, bytes_per_s=1e9, seconds_per_s=1e9))
    with pytest.raises(ProtocolError) as big:
        small.claims(data[:2000])
    assert big.value.code == "too_big" and big.value.close_code == 1009

    slow = Recording(RecordingLimits(max_chunk_bytes=64 * 1024, bytes_per_s=4000, seconds_per_s=1e9))
    codes = []
    for part in chunks(data, 3000):
        try:
            assert slow.claims(part)
            slow.decode(part)
        except ProtocolError as exc:
            codes.append(exc.code)
    assert codes and set(codes) == {"rate_limited"}  # the 8 KB burst passes, the rest is over 4 KB/s

    # A few bytes of Opus may claim 120 ms: the decoded seconds are bounded before decoding.
    short = Recording(RecordingLimits(max_chunk_bytes=64 * 1024, bytes_per_s=1e9, seconds_per_s=0.5))
    with pytest.raises(ProtocolError) as seconds:
        decode_all(short, chunks(data, 64 * 1024))
    assert seconds.value.code == "rate_limited" and "s of audio a second" in seconds.value.message


def test_opus_packet_durations_from_the_toc_byte() -> None:
    assert opus_samples(bytes([0b11111_0_00])) == 960  # CELT 20 ms, one frame
    assert opus_samples(bytes([0b00011_0_01])) == 2 * 2880  # SILK 60 ms, two frames
    assert opus_samples(bytes([0b11111_0_11, 6])) == 5760  # six 20 ms frames: 120 ms, the most
    assert opus_samples(bytes([0b11111_0_11, 7])) == 0  # 140 ms: not a valid packet
    assert opus_samples(b"") == 0


# --- the seed's visemes and audio_url ------------------------------------------------------------


def test_every_viseme_has_a_distinct_arkit_shape_with_all_names() -> None:
    shapes = {v: seed.blend(v) for v in seed.VISEME_BLEND}
    assert all(set(s) == set(seed.BLENDSHAPES) for s in shapes.values())
    assert all(0.0 <= w <= 1.0 for s in shapes.values() for w in s.values())
    assert not any(shapes["sil"].values())
    assert shapes["aa"]["jawOpen"] > shapes["E"]["jawOpen"] > shapes["PP"]["jawOpen"]
    assert shapes["U"]["mouthPucker"] > 0.5 and shapes["O"]["mouthFunnel"] > 0.5
    assert shapes["PP"]["mouthPressLeft"] > 0.5 and shapes["I"]["mouthSmileLeft"] > 0.3
    assert len({tuple(s.values()) for s in shapes.values()}) == len(shapes)
    assert seed.blend("aa", 0.5)["jawOpen"] == pytest.approx(0.35)


def test_our_viseme_fields_are_kept_and_the_seeds_blend_added() -> None:
    wav = b"RIFF fake wav"
    event = LlmResponse(
        text="Hi.", emotion="Happy", intensity=0.5, audio=base64.b64encode(wav).decode(), audio_format="wav",
        duration=0.2, visemes=[Viseme(t=0.0, viseme="PP", weight=1.0), Viseme(t=0.12, viseme="aa", weight=0.8)],
        turn_id="t", index=0, final=True, synthetic=True,
    )  # fmt: skip
    plain = json.loads(server_events.encode(event))
    assert "audio_url" not in plain and "blend" not in plain["visemes"][0]  # nothing is added by itself
    store = ReplyAudioStore()
    seed.extend(event, store, "session")
    sent = json.loads(server_events.encode(event))
    assert [{k: v for k, v in e.items() if k != "blend"} for e in sent["visemes"]] == plain["visemes"]
    assert {k: v for k, v in sent.items() if k not in ("visemes", "audio_url")} == {
        k: v for k, v in plain.items() if k != "visemes"
    }
    assert sent["visemes"][1]["blend"]["jawOpen"] == pytest.approx(0.56)
    assert store.get(sent["audio_url"].split("/")[-1].removesuffix(".wav")) == wav
    seed.extend(event, ReplyAudioStore(ttl_s=0), "session")
    assert json.loads(server_events.encode(event))["audio_url"] is None


def test_reply_audio_expires_is_per_session_bounded_and_unguessable() -> None:
    store = ReplyAudioStore(ttl_s=60, max_bytes=1000, per_session=2)
    a1 = store.put("a", b"1" * 100, now=0.0)
    a2 = store.put("a", b"2" * 100, now=1.0)
    a3 = store.put("a", b"3" * 100, now=2.0)  # a's oldest goes: two per session
    b1 = store.put("b", b"4" * 100, now=3.0)
    assert a1 and a2 and a3 and b1 and len({a1, a2, a3, b1}) == 4
    token = a3.removeprefix(PATH + "/").removesuffix(".wav")
    assert len(token) >= 43 and a3.startswith(PATH + "/")  # 256 random bits
    assert store.get(a1.split("/")[-1][:-4], now=3.0) is None
    assert store.get(token, now=3.0) == b"3" * 100
    assert store.get(token, now=62.5) is None  # expired
    assert store.get(b1.split("/")[-1][:-4], now=62.5) == b"4" * 100
    store.drop_session("b")
    assert len(store) == 0 and store.bytes == 0
    # The memory budget: the oldest go first; audio larger than the budget is not kept at all.
    for i in range(12):
        store.put(f"s{i}", b"x" * 100, now=100.0)
    assert store.bytes <= 1000 and len(store) == 10
    assert store.put("big", b"x" * 2000, now=100.0) is None
    assert ReplyAudioStore(ttl_s=0).put("a", b"x") is None


def test_the_access_log_never_shows_the_token() -> None:
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s - "%s %s HTTP/%s" %d',
        ("1.2.3.4", "GET", PATH + "/abcdef.wav", "1.1", 200),
        None,
    )
    RedactReplyAudio().filter(record)
    assert "abcdef" not in record.getMessage() and PATH + "/..." in record.getMessage()


# --- the seed's client, end to end ---------------------------------------------------------------


def wav_seconds(wav: bytes) -> float:
    with wave.open(io.BytesIO(wav)) as audio:
        return float(audio.getnframes() / audio.getframerate())


async def test_the_seed_client_talks_to_the_gateway_as_its_readme_shows(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer
) -> None:
    from tests.test_turn_e2e import mesh

    token = await new_user(gateway, "seed")  # consent on record: the seed's client predates it
    recording = encode(sentences_with_pauses(["I am so happy to see you today"], 1.0))
    async with (
        started(*mesh(nats_server.url, redis_server.url)),
        websockets.connect(gateway.replace("http", "ws") + "/ws", origin=Origin(gateway), max_size=2**22) as ws,
        httpx.AsyncClient(base_url=gateway) as http,
    ):
        events: list[dict[str, Any]] = []

        async def until(pred: Any, timeout: float = 90.0) -> dict[str, Any]:
            async with asyncio.timeout(timeout):
                while True:
                    for event in events:
                        if pred(event):
                            events.remove(event)
                            return event
                    events.append(json.loads(await ws.recv()))

        # Client -> server, as in the seed's README (API Reference, WebSocket Protocol).
        await ws.send(json.dumps({"type": "auth", "token": token}))
        await ws.send(
            json.dumps({"type": "preferences", "voice": "female", "language": "en", "personality": "therapist"})
        )
        await ws.send(json.dumps({"type": "request_greeting"}))
        greeting = await until(lambda e: e["type"] == "llm_response" and e["final"])
        frame = "data:image/jpeg;base64," + base64.b64encode(astronaut()).decode()
        await ws.send(json.dumps({"type": "video_frame", "frame": frame}))
        # MediaRecorder with a 250 ms timeslice: about 1 KB each, the header in the first one only.
        parts = chunks(recording, 1000)
        assert parts[0][:4] == bytes.fromhex("1a45dfa3") != parts[1][:4]
        for part in parts:
            await ws.send(json.dumps({"type": "audio_chunk", "audio": base64.b64encode(part).decode()}))
            await asyncio.sleep(0.05)
        transcript = await until(lambda e: e["type"] == "transcript")
        spoken = await until(lambda e: e["type"] == "llm_response" and e["final"])
        # Text-only: the seed's speech_end with the text it transcribed.
        await ws.send(json.dumps({"type": "speech_end", "text": "tell me something nice about the weather"}))
        typed = await until(lambda e: e["type"] == "transcript" and e["source"] == "typed")
        answered = await until(lambda e: e["type"] == "llm_response" and e["final"])
        # Corrupt audio in the same stream is answered with a clear error, and the socket stays open.
        await ws.send(json.dumps({"type": "audio_chunk", "audio": base64.b64encode(b"\x00garbage" * 50).decode()}))
        error = await until(lambda e: e["type"] == "error")
        await ws.send(json.dumps({"type": "ping"}))
        await until(lambda e: e["type"] == "pong", 5.0)

        assert error["code"] == "corrupt_audio" and error["message"]
        assert (
            " ".join(re.sub(r"[^a-z' ]", " ", transcript["text"].lower()).split()) == "i am so happy to see you today"
        )
        assert transcript["source"] == "asr" and typed["text"].startswith("tell me")
        for reply in (greeting, spoken, answered):
            # Server -> client, the seed's llm_response: text, emotion, intensity, audio_url, visemes.
            assert reply["text"] and reply["emotion"] in ("Neutral", "Happy", "Sad", "Angry")
            assert 0.0 <= reply["intensity"] <= 1.0
            assert reply["visemes"] and all(
                isinstance(v["t"], float) and set(v["blend"]) == set(seed.BLENDSHAPES) for v in reply["visemes"]
            )
            assert any(v["blend"]["jawOpen"] > 0.3 for v in reply["visemes"])
            assert reply["audio_url"].startswith(PATH + "/")
            fetched = await http.get(reply["audio_url"])
            assert fetched.status_code == 200 and fetched.headers["content-type"] == "audio/wav"
            assert fetched.headers["cache-control"] == "no-store"
            assert fetched.content == base64.b64decode(reply["audio"])  # our own fields are all still there
            assert wav_seconds(fetched.content) == pytest.approx(reply["duration"])
        guessed = await http.get(PATH + "/" + "A" * 43 + ".wav")
        assert guessed.status_code == 404 and guessed.json()["code"] == "not_found"
    # The socket closed: its reply audio goes with it (as soon as the gateway has cleaned the session up).
    async with httpx.AsyncClient(base_url=gateway) as http, asyncio.timeout(10):
        while (await http.get(spoken["audio_url"])).status_code != 404:
            await asyncio.sleep(0.1)
