"""The Python client (`python -m gateway.client`) end to end through a real gateway and a worker."""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path

from nats.aio.client import Client as NATS

from mrrrme import subjects
from mrrrme.contracts import Frame
from mrrrme.stack.infra import NatsServer
from tests.conftest import ROOT
from tests.speech import sentences_with_pauses, write_wav
from tests.test_gateway import TINY_JPEG, subscribe
from tests.workers.echo import EchoService, EchoSettings


async def test_client_streams_an_image_and_a_wav_and_prints_every_event(
    gateway: str, nats_server: NatsServer, nc: NATS, tmp_path: Path
) -> None:
    image = tmp_path / "face.jpg"
    image.write_bytes(TINY_JPEG)
    wav = write_wav(tmp_path / "speech.wav", sentences_with_pauses(["Good morning, this is a test."], 0.5))
    frames = await subscribe(nc, subjects.ALL_FRAMES, Frame)
    async with EchoService(EchoSettings(nats_url=nats_server.url)):
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "gateway.client",
            "--url",
            gateway,
            "--user",
            "cli",
            "--image",
            str(image),
            "--wav",
            str(wav),
            "--fps",
            "5",
            "--linger",
            "2",
            cwd=ROOT,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(process.communicate(), 60)
    text = out.decode()
    assert process.returncode == 0, text
    session = re.search(r"ready\s+session (\w+)", text)
    assert session, text
    assert re.search(r"^\s*[\d.]+s\s+preferences\s", text, re.M), text
    # The echo worker answered the utterance the gateway cut from the WAV: a transcript came back.
    assert re.search(r"^\s*[\d.]+s\s+transcript\s+\{\"text\": \"\w+\"", text, re.M), text
    assert len(frames.items) >= 5 and {f.session_id for f in frames.items} == {session.group(1)}
