"""What the person meets in the web client, in real Chromium against the real gateway (and, for a typed
turn, the real text -> fusion -> dialogue -> speech mesh): sign-up and log-in modes, text-only mode
without any camera or microphone control, consent changed in the app, the overall confidence, the
timeline chart with its table, the phone layout, and no console error on a normal session."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.aio.msg import Msg
from playwright.async_api import Page

from mrrrme import subjects
from mrrrme.contracts import new_id
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import PASSWORD
from tests.conftest import APPS
from tests.mesh import started
from tests.test_turn_e2e import mesh
from tests.test_web import CHROMIUM, browser_page, media, sign_up_and_consent, wait_until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)")
__all__ = ["media"]  # the fixture, imported for this module's tests

# Keeps every fused_emotion the socket brings, exactly as the server sent it.
FUSED_LOG = """(() => {
  window.__fused = [];
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (event) => {
        if (typeof event.data !== 'string') return;
        const message = JSON.parse(event.data);
        if (message.type === 'fused_emotion' && !message.live) window.__fused.push(message);
      });
    }
  };
})();"""


def text_mesh(nats_url: str, redis_url: str) -> list[Any]:
    """The services a typed turn needs (no face, voice or speech recognition: nothing to look at or hear)."""
    wanted = {"TextService", "FusionService", "DialogueService", "TtsService"}
    return [service for service in mesh(nats_url, redis_url) if type(service).__name__ in wanted]


async def visible(page: Page, selector: str) -> bool:
    return bool(await page.locator(selector).is_visible())


def fresh() -> str:
    return f"web-{new_id()[:8]}"


async def test_enter_signs_a_new_user_up_and_logs_a_known_one_in_and_focus_starts_in_the_username(
    gateway: str, media: tuple[Path, Path]
) -> None:
    errors: list[str] = []
    async for page in browser_page(media, console_errors=errors):
        await page.goto(gateway)
        await page.get_by_role("heading", name="Create an account or log in").wait_for()
        assert await page.evaluate("document.activeElement.id") == "username"
        name = fresh()
        # A too-common password: the person reads a sentence, not JSON after "please check the form:".
        await page.keyboard.type(name)
        await page.fill("#password", "letmein1")
        await page.press("#password", "Enter")
        error = page.locator("#auth-error")
        await error.filter(has_text="common").wait_for()
        text = await error.text_content() or ""
        assert text[0].isupper() and text.endswith(".") and "{" not in text and "please check" not in text, text
        # Enter in the visible (sign-up) mode signs up: a new user is never told "invalid username or password".
        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")
        await page.get_by_text("Choose what MrrrMe may use").wait_for()
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector("#connection:text('connected')", timeout=20_000)
        await page.get_by_text("Settings", exact=True).click()
        await page.get_by_role("button", name="Log out").click()
        await page.get_by_role("heading", name="Create an account or log in").wait_for()
        # Log-in mode: the button says so, and Enter logs in.
        await page.get_by_label("I have an account: log in").check()
        assert await page.text_content("#auth-submit") == "Log in"
        await page.fill("#username", name)
        await page.fill("#password", "not the password")
        await page.press("#password", "Enter")
        await error.filter(has_text="do not match").wait_for()
        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")
        await page.get_by_text("Choose what MrrrMe may use").wait_for()
    # The expected refusals above are answered by the page; a normal load logs nothing (see the session test).
    assert all("401" in e or "400" in e for e in errors), errors


async def test_text_only_mode_shows_no_camera_box_or_device_controls_and_the_overall_row_is_confidence(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, media: tuple[Path, Path]
) -> None:
    errors: list[str] = []
    async with started(*text_mesh(nats_server.url, redis_server.url)):
        async for page in browser_page(media, console_errors=errors):
            await page.add_init_script(FUSED_LOG)
            await sign_up_and_consent(page, gateway, fresh(), camera=False, microphone=False)
            assert await page.evaluate("window.__mediaCalls.length") == 0
            for selector in ("#preview", "#mute-camera", "#mute-microphone"):
                assert not await visible(page, selector), f"{selector} shows in text-only mode"
                box = await page.locator(selector).bounding_box()
                assert box is None, f"{selector} still takes space: {box}"
            assert await visible(page, "#text-only")
            assert await page.evaluate("document.activeElement.id") == "say"

            await page.keyboard.type("I am so happy today, everything went wonderfully")
            await page.keyboard.press("Enter")
            await wait_until(page, "window.__fused.length >= 1", 60)
            fused: dict[str, Any] = (await page.evaluate("window.__fused"))[0]
            order = ["Neutral", "Happy", "Sad", "Angry"]
            confidence = fused["probabilities"][order.index(fused["emotion"])]
            cell = await page.text_content("#live-fused .confidence")
            assert cell == f"{round(confidence * 100)}%", (cell, fused)
            assert (
                await page.text_content("#fused-intensity") == f"Overall intensity: {round(fused['intensity'] * 100)}%"
            )
            assert await page.text_content("#live-fused .emotion") == fused["emotion"]

            # The timeline: a time axis, a legend naming each mark, and a table with the same turn.
            await wait_until(page, "window.mrrrme.timeline.length === 1", 5)
            ticks: list[str] = await page.evaluate("window.mrrrme.timeline.xTicks")
            assert len(ticks) >= 2 and all(re.fullmatch(r"\d\d:\d\d:\d\d", t) for t in ticks), ticks
            assert len(set(ticks)) == len(ticks), f"the time axis repeats itself: {ticks}"
            x_min, x_max = await page.evaluate(
                "[window.mrrrme.timeline.chart.scales.x.min, window.mrrrme.timeline.chart.scales.x.max]"
            )
            assert x_min < fused["ts"] < x_max and x_max - x_min < 600, (x_min, fused["ts"], x_max)
            legend = await page.locator("#timeline .u-legend").inner_text()
            for label in ("overall", "face", "voice", "words"):
                assert label in legend, legend
            await page.get_by_text("Timeline as a table").click()
            rows = page.locator("#timeline-table tbody tr")
            assert await rows.count() == 1
            cells = await rows.first.locator("th, td").all_inner_texts()
            assert cells[1] == fused["emotion"] and cells[2] == f"{round(fused['intensity'] * 100)}%", cells
            assert cells[5].startswith(fused["modalities"]["text"]["emotion"]), (cells, fused["modalities"])
            await page.locator("#conversation li.assistant").first.wait_for(timeout=30_000)
    assert errors == [], f"console errors in a normal session: {errors}"


async def test_consent_changed_in_settings_stops_and_starts_the_devices_within_a_second(
    gateway: str, nats_server: NatsServer, media: tuple[Path, Path]
) -> None:
    state = APPS[gateway].state.gateway
    nc = await nats.connect(nats_server.url)
    frames: list[float] = []

    async def on_frame(msg: Msg) -> None:
        frames.append(time.monotonic())

    await nc.subscribe(subjects.ALL_FRAMES, cb=on_frame)
    name = fresh()

    def server_consent() -> dict[str, bool]:
        sessions = [s for s in state.sessions.values() if s.identity and s.identity.username == name]
        assert len(sessions) == 1
        return dict(sessions[0].consent)

    try:
        async for page in browser_page(media):
            await sign_up_and_consent(page, gateway, name, camera=True, microphone=True)
            await wait_until(page, "window.mrrrme.camera && window.mrrrme.camera.sent > 3", 20)
            for selector in ("#preview", "#mute-camera", "#mute-microphone"):
                assert await visible(page, selector), selector
            assert not await visible(page, "#text-only")
            await page.get_by_text("Settings", exact=True).click()
            camera_box = page.get_by_label("Camera: read emotion from my face", exact=True)
            assert await camera_box.is_checked()

            withdrawn = time.monotonic()
            await camera_box.uncheck()
            while server_consent()["camera"]:
                assert time.monotonic() - withdrawn < 1.0, "the server still has camera consent after 1 s"
                await asyncio.sleep(0.02)
            assert await page.evaluate("window.mrrrme.camera === null && !document.querySelector('#preview').srcObject")
            assert not await visible(page, "#preview") and not await visible(page, "#mute-camera")
            assert await visible(page, "#mute-microphone")
            await asyncio.sleep(0.3)  # a frame already on the wire may still land
            settled = len(frames)
            await asyncio.sleep(1.5)
            assert len(frames) == settled, "frames kept reaching the mesh after the camera was withdrawn"

            await page.get_by_label(
                "Microphone: transcribe my speech and read emotion from my voice", exact=True
            ).uncheck()
            withdrawn = time.monotonic()
            await wait_until(page, "window.mrrrme.microphone === null", 1)
            while server_consent()["microphone"]:
                assert time.monotonic() - withdrawn < 1.0, "the server still has microphone consent after 1 s"
                await asyncio.sleep(0.02)
            assert await visible(page, "#text-only") and not await visible(page, "#mute-microphone")

            await camera_box.check()  # given again: the camera opens again and frames flow
            await wait_until(page, "window.mrrrme.camera && window.mrrrme.camera.sent > 3", 10)
            assert server_consent() == {"camera": True, "microphone": False}
            assert await visible(page, "#preview") and await visible(page, "#mute-camera")
            assert len(frames) > settled
    finally:
        await nc.drain()


async def test_on_a_phone_the_notice_is_short_and_the_emotion_panel_is_on_the_first_screen(
    gateway: str, media: tuple[Path, Path]
) -> None:
    async for page in browser_page(media, viewport=(390, 844)):
        await sign_up_and_consent(page, gateway, fresh(), camera=True, microphone=False)
        notice = await page.evaluate(
            """(() => { const n = document.querySelector('#ai-notice');
              return [n.getBoundingClientRect().height, parseFloat(getComputedStyle(n).lineHeight) ||
                      parseFloat(getComputedStyle(n).fontSize) * 1.45, n.innerText]; })()"""
        )
        assert notice[0] <= 2 * notice[1] + 1, f"the notice wraps to more than two lines: {notice}"
        assert "AI" in notice[2]
        top = await page.evaluate("document.querySelector('#live-table').getBoundingClientRect().top")
        assert top < 844 - 100, f"the emotion panel starts at {top}px: below the first screen"
        width = await page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width}px"
