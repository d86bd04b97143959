"""The web client in real headless Chromium (Debian's package, driven by Playwright) against the whole
lite stack: a fake camera plays the astronaut, a fake microphone plays synthesized speech.

The screenshot of the app during a reply is saved to artifacts/web-reply.png.
"""

from __future__ import annotations

import asyncio
import time
import wave
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import nats
import numpy as np
import pytest
from nats.aio.msg import Msg
from playwright.async_api import Page, async_playwright

from mrrrme import subjects
from mrrrme.stack.infra import NatsServer, RedisServer
from services.memory.service import MemoryService
from services.memory.settings import MemorySettings
from tests.accounts import PASSWORD
from tests.conftest import APPS
from tests.images import SAMPLES, y4m
from tests.mesh import started
from tests.speech import SAMPLE_RATE, sentences_with_pauses
from tests.test_turn_e2e import mesh

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts"
pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)")


def write_wav(path: Path, pcm: np.ndarray) -> None:
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(SAMPLE_RATE)
        wav.writeframes(pcm.tobytes())


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("fake-devices")
    video = folder / "astronaut.y4m"
    video.write_bytes(y4m(SAMPLES.astronaut()))
    audio = folder / "speech.wav"
    pcm = sentences_with_pauses(["I am so happy to see you today"], 1.5)
    write_wav(audio, pcm)
    return video, audio


async def browser_page(
    media: tuple[Path, Path], viewport: tuple[int, int] = (1280, 900), console_errors: list[str] | None = None
) -> AsyncIterator[Page]:
    """A page in a fresh Chromium; `console_errors`, when given, collects every console error (a failed
    request such as a 401 or a missing favicon is one) and uncaught exception from the first load on."""
    video, audio = media
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
                "--use-fake-ui-for-media-stream",
                "--use-fake-device-for-media-stream",
                f"--use-file-for-fake-video-capture={video}",
                f"--use-file-for-fake-audio-capture={audio}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        context = await browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        page = await context.new_page()
        if console_errors is not None:
            page.on("console", lambda message: console_errors.append(message.text) if message.type == "error" else None)
        # Record, at every getUserMedia call, whether the AI / emotion-recognition notice was on screen.
        await page.add_init_script(
            """(() => {
              const original = navigator.mediaDevices.getUserMedia.bind(navigator.mediaDevices);
              window.__mediaCalls = [];
              navigator.mediaDevices.getUserMedia = (constraints) => {
                const notice = document.getElementById('ai-notice');
                window.__mediaCalls.push({video: !!constraints.video, audio: !!constraints.audio,
                  noticeVisible: !!notice && notice.offsetParent !== null && notice.textContent.includes('AI')});
                return original(constraints);
              };
            })();"""
        )
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        try:
            yield page
        finally:
            await browser.close()
        assert not errors, f"page errors: {errors}"


DIAGNOSIS = """JSON.stringify({
  status: document.querySelector('#status').textContent,
  connection: document.querySelector('#connection').textContent,
  face: document.querySelector('#live-face').textContent,
  transcript: document.querySelector('#transcript').textContent,
  framesSent: window.mrrrme?.camera?.sent, audioSent: window.mrrrme?.microphone?.sent,
})"""


async def wait_until(page: Page, expression: str, timeout_s: float) -> None:
    """Poll a page expression (the page's CSP forbids the eval that `wait_for_function` needs)."""
    deadline = time.monotonic() + timeout_s
    while not await page.evaluate(expression):
        if time.monotonic() > deadline:
            state = await page.evaluate(DIAGNOSIS)
            raise AssertionError(f"not within {timeout_s}s: {expression}; page state: {state}")
        await asyncio.sleep(0.1)


async def sign_up_and_consent(page: Page, url: str, name: str, camera: bool, microphone: bool) -> None:
    await page.goto(url)
    await page.get_by_role("heading", name="Create an account or log in").wait_for()
    await page.fill("#username", name)
    await page.fill("#password", PASSWORD)
    await page.get_by_role("button", name="Create account").click()
    await page.get_by_text("Choose what MrrrMe may use").wait_for()
    assert await page.evaluate("window.__mediaCalls.length") == 0, "no device may open before consent"
    if camera:
        await page.check("#consent-camera")
    if microphone:
        await page.check("#consent-microphone")
    await page.get_by_role("button", name="Continue").click()
    await page.wait_for_selector("#connection:text('connected')", timeout=20_000)


async def test_a_person_signs_up_consents_and_talks_with_the_avatar(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, media: tuple[Path, Path]
) -> None:
    database_url = APPS[gateway].state.gateway.settings.database_url
    memory = MemoryService(
        MemorySettings(nats_url=nats_server.url, redis_url=redis_server.url, database_url=database_url)
    )
    async with started(*mesh(nats_server.url, redis_server.url), memory):
        async for page in browser_page(media):
            await sign_up_and_consent(page, gateway, "browser-user", camera=True, microphone=True)
            calls = await page.evaluate("window.__mediaCalls")
            assert calls and all(c["noticeVisible"] for c in calls), calls
            # The face: the live panel shows a face emotion read from the fake camera.
            await wait_until(page, "document.querySelector('#live-face').dataset.emotion === 'Happy'", 60)
            # The words: the transcript of the spoken sentence.
            await wait_until(page, "document.querySelector('#transcript').textContent.includes('happy to see you')", 90)
            # The reply: audio plays while the avatar's mouth moves.
            await page.wait_for_selector("#avatar[data-speaking='true']", timeout=60_000)
            shapes: set[str] = set()
            screenshot_taken = False
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                state = await page.evaluate(
                    "[document.querySelector('#avatar').dataset.speaking, "
                    "document.querySelector('#avatar svg').dataset.viseme || 'sil']"
                )
                if state[0] != "true":
                    break
                shapes.add(state[1])
                if not screenshot_taken and len(shapes) > 1:
                    ARTIFACTS.mkdir(exist_ok=True)
                    await page.screenshot(path=str(ARTIFACTS / "web-reply.png"), full_page=True)
                    screenshot_taken = True
                await asyncio.sleep(0.03)
            assert len(shapes - {"sil"}) >= 2, f"the mouth did not move during playback: {shapes}"
            assert screenshot_taken
            assert await page.locator("#conversation li.assistant").count() >= 1
            # The timeline has a point for the turn: in the chart's data and as a row of its table.
            await wait_until(page, "window.mrrrme.timeline.length >= 1", 10)
            assert await page.locator("#timeline-table tbody tr").count() >= 1


async def test_with_camera_consent_withheld_no_frame_reaches_the_gateway(
    gateway: str, nats_server: NatsServer, media: tuple[Path, Path]
) -> None:
    nc = await nats.connect(nats_server.url)
    frames: list[Msg] = []

    async def on_frame(msg: Msg) -> None:
        frames.append(msg)

    await nc.subscribe(subjects.ALL_FRAMES, cb=on_frame)
    metrics = APPS[gateway].state.gateway.metrics

    def video_frames_seen() -> float:
        total = 0.0
        for family in metrics.registry.collect():
            for sample in family.samples:
                labels: dict[str, Any] = sample.labels
                if sample.name == "mrrrme_gateway_messages_total" and labels.get("type") == "video_frame":
                    total += sample.value
                if sample.name == "mrrrme_gateway_dropped_total" and labels.get("reason") == "no_consent":
                    total += sample.value
        return total

    before = video_frames_seen()
    async for page in browser_page(media):
        await sign_up_and_consent(page, gateway, "camera-shy", camera=False, microphone=True)
        calls = await page.evaluate("window.__mediaCalls")
        assert calls and not any(c["video"] for c in calls), "the camera must not even be opened"
        await asyncio.sleep(4)  # the fake camera would have sent ~20 frames by now
    await nc.drain()
    assert frames == [] and video_frames_seen() == before, "a frame reached the gateway without camera consent"


async def test_mute_stops_the_camera_and_a_dropped_socket_reconnects_and_resumes(
    gateway: str, media: tuple[Path, Path]
) -> None:
    state = APPS[gateway].state.gateway
    async for page in browser_page(media):
        await sign_up_and_consent(page, gateway, "reconnecting", camera=True, microphone=False)
        await wait_until(page, "window.mrrrme.camera.sent > 3", 20)
        await page.get_by_role("button", name="Mute camera").click()
        muted_at = await page.evaluate("window.mrrrme.camera.sent")
        await asyncio.sleep(1.0)
        assert await page.evaluate("window.mrrrme.camera.sent") <= muted_at + 1  # one may be in flight
        await page.get_by_role("button", name="Unmute camera").click()

        first = await page.evaluate("window.mrrrme.socket.sessionId")
        for session in list(state.sessions.values()):
            session.close_soon(1012, "service restart")  # the server drops the socket
        await wait_until(page, f"window.mrrrme.socket.sessionId && window.mrrrme.socket.sessionId !== '{first}'", 20)
        resumed_from = await page.evaluate("window.mrrrme.camera.sent")
        await wait_until(page, f"window.mrrrme.camera.sent > {resumed_from + 3}", 10)
        assert await page.text_content("#connection") == "connected"


# Records, in page time, what the socket brought (interrupts and reply sentences, with whether the avatar
# was speaking at that moment), every start of reply audio, and every change of the avatar's speaking state.
PLAYBACK_LOG = """(() => {
  window.__log = [];
  const now = () => performance.now();
  const speaking = () => document.querySelector('#avatar')?.dataset.speaking === 'true';
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') return;
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (message.type === 'interrupt' || message.type === 'llm_response')
          window.__log.push({kind: message.type, turn: message.turn_id, t: now(), speaking: speaking()});
      });
    }
  };
  const start = AudioBufferSourceNode.prototype.start;
  AudioBufferSourceNode.prototype.start = function (...args) {
    window.__log.push({kind: 'audio_start', t: now()});
    return start.apply(this, args);
  };
  document.addEventListener('DOMContentLoaded', () => new MutationObserver((records) => {
    for (const record of records)
      if (record.target.id === 'avatar')
        window.__log.push({kind: 'speaking', value: record.target.dataset.speaking, t: now()});
  }).observe(document.documentElement, {subtree: true, attributes: true, attributeFilter: ['data-speaking']}));
})();"""


@pytest.fixture(scope="module")
def talking_over(media: tuple[Path, Path]) -> tuple[Path, Path]:
    """The fake microphone loops its file: the next take of the sentence starts while the reply plays."""
    video, audio = media
    looping = audio.with_name("talking-over.wav")
    pcm = sentences_with_pauses(["Tell me something about the sea and the sky"], 1.2)
    write_wav(looping, pcm)
    return video, looping


async def test_speaking_over_a_reply_stops_the_avatar_at_once_and_the_rest_of_that_reply_never_plays(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, talking_over: tuple[Path, Path]
) -> None:
    async with started(*mesh(nats_server.url, redis_server.url)):
        async for page in browser_page(talking_over):
            await page.add_init_script(PLAYBACK_LOG)
            await sign_up_and_consent(page, gateway, "talks-over", camera=False, microphone=True)
            await page.get_by_text("Settings", exact=True).click()
            await page.select_option("#pref-style", "detailed")  # three sentences: a long reply to talk over
            await wait_until(page, "window.__log.some(e => e.kind === 'interrupt' && e.speaking)", 90)
            await asyncio.sleep(1.5)
            log: list[dict[str, Any]] = await page.evaluate("window.__log")
    interrupt = next(e for e in log if e["kind"] == "interrupt" and e["speaking"])
    later = [e for e in log if e["t"] >= interrupt["t"]]
    stopped = next((e for e in later if e["kind"] == "speaking"), None)
    assert stopped is not None and stopped["value"] == "false", f"the avatar went on speaking: {later[:10]}"
    print(f"interrupt -> avatar silent: {stopped['t'] - interrupt['t']:.1f} ms")
    assert stopped["t"] - interrupt["t"] < 200, (interrupt, stopped)
    assert not any(e["kind"] == "llm_response" and e["turn"] == interrupt["turn"] for e in later)
    # No reply audio starts again until a sentence of a new turn has arrived.
    next_reply = next((e["t"] for e in later if e["kind"] == "llm_response"), float("inf"))
    assert not any(e["kind"] == "audio_start" and e["t"] < next_reply for e in later), later[:10]
