"""A Python client of the gateway: log in, stream an image or video and a WAV file, print every event.

    python -m gateway.client --url http://localhost:7860 --user alice --image face.jpg --wav speech.wav

It speaks the real protocol (docs/protocol.md), binary media frames by default (`--json` for the JSON
form). Tests and benchmarks use `GatewayClient` directly.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import sys
import time
import urllib.error
import urllib.request
import wave
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import websockets
from websockets.asyncio.client import ClientConnection
from websockets.typing import Origin

from gateway.protocol import KIND_AUDIO, KIND_VIDEO, pack_binary

SAMPLE_RATE = 16000


def api(base_url: str, method: str, path: str, body: object = None, token: str | None = None) -> tuple[int, Any]:
    """One REST call: (status, parsed JSON body or None). HTTP errors are returned, not raised."""
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base_url.rstrip('/')}{path}", data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            status = response.status
    except urllib.error.HTTPError as exc:
        raw, status = exc.read(), exc.code
    try:
        return status, json.loads(raw) if raw else None
    except ValueError:
        return status, raw


def sign_in(base_url: str, username: str, password: str, camera: bool = True, microphone: bool = True) -> str:
    """Log in (signing up first when the account does not exist yet), record consent, return the token."""
    status, body = api(base_url, "POST", "/api/login", {"username": username, "password": password})
    if status == 401:
        status, body = api(base_url, "POST", "/api/signup", {"username": username, "password": password})
    if status not in (200, 201):
        raise RuntimeError(f"login failed: HTTP {status}: {body}")
    token = str(body["token"])
    status, body = api(base_url, "PUT", "/api/consent", {"camera": camera, "microphone": microphone}, token)
    if status != 200:
        raise RuntimeError(f"consent not recorded: HTTP {status}: {body}")
    return token


def read_wav_pcm16(path: Path) -> bytes:
    """PCM16 mono 16 kHz from any PCM WAV (mixed down and resampled when needed)."""
    with wave.open(str(path), "rb") as wav:
        channels, width, rate = wav.getnchannels(), wav.getsampwidth(), wav.getframerate()
        raw = wav.readframes(wav.getnframes())
    if width != 2:
        raise SystemExit(f"{path}: only 16-bit PCM WAV files are supported (this one has {8 * width}-bit samples)")
    samples = np.frombuffer(raw, dtype="<i2").reshape(-1, channels).mean(axis=1)
    if rate != SAMPLE_RATE:
        n = int(len(samples) * SAMPLE_RATE / rate)
        samples = np.interp(np.linspace(0, len(samples) - 1, n), np.arange(len(samples)), samples)
    return bytes(np.clip(samples, -32768, 32767).astype("<i2").tobytes())


def jpeg_frames(image: Path | None, video: Path | None, max_side: int = 640) -> Iterator[bytes]:
    """JPEG frames: the image file itself (repeated), or a video decoded with OpenCV."""
    if image is not None:
        data = image.read_bytes()
        if data[:2] != b"\xff\xd8":
            data = _encode_with_opencv(image)
        while True:
            yield data
    if video is not None:
        cv2 = _opencv()
        capture = cv2.VideoCapture(str(video))
        try:
            while True:
                ok, frame = capture.read()
                if not ok:
                    return
                scale = max_side / max(frame.shape[:2])
                if scale < 1:
                    frame = cv2.resize(frame, None, fx=scale, fy=scale)
                ok, buffer = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
                if ok:
                    yield buffer.tobytes()
        finally:
            capture.release()


def _opencv() -> Any:
    try:
        import cv2
    except ImportError:
        raise SystemExit("videos and non-JPEG images need OpenCV: pip install 'opencv-python-headless<5'") from None
    return cv2


def _encode_with_opencv(path: Path) -> bytes:
    cv2 = _opencv()
    image = cv2.imread(str(path))
    if image is None:
        raise SystemExit(f"{path}: not an image OpenCV can read")
    return bytes(cv2.imencode(".jpg", image)[1].tobytes())


class GatewayClient:
    """One authenticated socket; `events()` yields every server message with its arrival time."""

    def __init__(self, ws: ClientConnection, binary: bool = True) -> None:
        self.ws = ws
        self.binary = binary
        self.session_id = ""
        self._seq = 0
        self.started = time.monotonic()

    @classmethod
    @contextlib.asynccontextmanager
    async def connect(
        cls, base_url: str, token: str, binary: bool = True, origin: str | None = None
    ) -> AsyncIterator[GatewayClient]:
        ws_url = base_url.replace("http://", "ws://").replace("https://", "wss://").rstrip("/") + "/ws"
        async with websockets.connect(
            ws_url,
            origin=Origin(origin or base_url.rstrip("/")),
            compression=None,
            max_size=4 * 1024 * 1024,
        ) as ws:
            client = cls(ws, binary)
            await client.send_json({"type": "auth", "token": token})
            ready = await client.receive()
            if ready.get("type") != "ready":
                raise RuntimeError(f"authentication failed: {ready}")
            client.session_id = ready["session_id"]
            yield client

    async def send_json(self, message: dict[str, Any]) -> None:
        await self.ws.send(json.dumps(message))

    async def receive(self, timeout: float | None = None) -> dict[str, Any]:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        return dict(json.loads(raw))

    async def send_frame(self, jpeg: bytes) -> None:
        self._seq += 1
        if self.binary:
            await self.ws.send(pack_binary(KIND_VIDEO, self._seq, int(time.time() * 1000), jpeg))
        else:
            frame = "data:image/jpeg;base64," + base64.b64encode(jpeg).decode()
            await self.send_json({"type": "video_frame", "frame": frame})

    async def send_audio(self, pcm: bytes) -> None:
        self._seq += 1
        if self.binary:
            await self.ws.send(pack_binary(KIND_AUDIO, self._seq, int(time.time() * 1000), pcm))
        else:
            await self.send_json({"type": "audio_chunk", "audio": base64.b64encode(pcm).decode()})

    async def stream_audio(self, pcm: bytes, chunk_ms: int = 40, realtime: bool = True) -> None:
        step = SAMPLE_RATE * 2 * chunk_ms // 1000
        for offset in range(0, len(pcm), step):
            await self.send_audio(pcm[offset : offset + step])
            if realtime:
                await asyncio.sleep(chunk_ms / 1000)

    async def stream_frames(self, frames: Iterator[bytes], fps: float, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        for jpeg in frames:
            if time.monotonic() >= deadline:
                return
            await self.send_frame(jpeg)
            await asyncio.sleep(1 / fps)

    async def events(self) -> AsyncIterator[tuple[float, dict[str, Any]]]:
        async for raw in self.ws:
            yield time.monotonic() - self.started, dict(json.loads(raw))


def _describe(event: dict[str, Any]) -> str:
    shown = {k: v for k, v in event.items() if k != "type"}
    if "audio" in shown:
        shown["audio"] = f"<{len(shown['audio']) * 3 // 4} bytes of WAV>"
    text = json.dumps(shown, ensure_ascii=False)
    return text if len(text) < 300 else text[:297] + "..."


async def run(args: argparse.Namespace) -> int:
    token = args.token or sign_in(
        args.url, args.user, args.password, camera=bool(args.image or args.video), microphone=bool(args.wav)
    )
    pcm = read_wav_pcm16(args.wav) if args.wav else b""
    frames = jpeg_frames(args.image, args.video) if (args.image or args.video) else None
    async with GatewayClient.connect(args.url, token, binary=not args.json) as client:
        print(f"{0.0:7.3f}s  ready  session {client.session_id}", flush=True)
        preferences = {"personality": args.personality, "style": args.style, "language": args.language}
        await client.send_json({"type": "preferences", **preferences})

        async def printer() -> None:
            async for at, event in client.events():
                print(f"{at:7.3f}s  {event['type']:<14} {_describe(event)}", flush=True)

        printing = asyncio.create_task(printer())
        senders = []
        speech_s = len(pcm) / 2 / SAMPLE_RATE
        if frames is not None:
            senders.append(client.stream_frames(frames, args.fps, max(speech_s, args.seconds)))
        if pcm:
            senders.append(client.stream_audio(pcm + bytes(SAMPLE_RATE * 2)))  # 1 s of silence ends the turn
        if args.text:
            senders.append(client.send_json({"type": "speech_end", "text": args.text}))
        if args.greeting:
            senders.append(client.send_json({"type": "request_greeting"}))
        await asyncio.gather(*senders)
        await asyncio.sleep(args.linger)
        printing.cancel()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://localhost:7860", help="gateway base URL")
    parser.add_argument("--user", default="demo", help="account to log in as (signed up on first use)")
    parser.add_argument(
        "--password",
        default=os.environ.get("MRRRME_PASSWORD", "demo-password-for-the-cli"),
        help="its password (default: $MRRRME_PASSWORD); consent is recorded for the devices streamed",
    )
    parser.add_argument("--token", help="use this login token instead of logging in")
    parser.add_argument("--image", type=Path, help="an image to stream as the camera (JPEG, or anything OpenCV reads)")
    parser.add_argument("--video", type=Path, help="a video file to stream as the camera (needs OpenCV)")
    parser.add_argument("--wav", type=Path, help="a WAV file to stream as the microphone")
    parser.add_argument("--text", help="send typed text instead of (or besides) speech")
    parser.add_argument("--greeting", action="store_true", help="ask the assistant to greet first")
    parser.add_argument("--fps", type=float, default=5.0, help="camera frames per second")
    parser.add_argument("--seconds", type=float, default=3.0, help="how long to stream the camera at least")
    parser.add_argument("--linger", type=float, default=10.0, help="seconds to keep listening after sending")
    parser.add_argument("--personality", choices=["therapist", "coach"], default="therapist")
    parser.add_argument("--style", choices=["brief", "balanced", "detailed"], default="balanced")
    parser.add_argument("--language", default="en", help="reply language, e.g. en, nl, de, fr, es, it, pt")
    parser.add_argument("--json", action="store_true", help="send media as JSON/base64 instead of binary frames")
    args = parser.parse_args(argv)
    try:
        return asyncio.run(run(args))
    except KeyboardInterrupt:
        return 130
    except (OSError, websockets.exceptions.WebSocketException) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
