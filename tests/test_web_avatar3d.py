"""A person's own 3D avatar in real Chromium (WebGL on SwiftShader): the test writes a GLB head with Oculus
viseme and ARKit morph targets (the Ready Player Me / Avaturn kind), one with ARKit blendshapes only, and a
VRM 1.0 (expressions bound to morph targets); each is chosen through Settings > Avatar, a sentence with
known visemes plays, and the model's own morph weights, read back from its three.js meshes, must follow the
visemes with blended transitions, the reply's emotion and blinks. three.js loads only once a 3D avatar is
chosen; the file stays in the browser (IndexedDB: it is back after a reload) and no request or socket frame
carries it; a file that cannot be used says why and leaves the built-in avatar on screen.
Screenshots: artifacts/web-avatar3d-*.png."""

from __future__ import annotations

import asyncio
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image
from playwright.async_api import FilePayload, Page

from mrrrme.contracts import new_id
from tests import gltf
from tests.test_web import ARTIFACTS, CHROMIUM, browser_page, media, sign_up_and_consent, wait_until
from tests.test_web_a11y import axe_violations
from tests.test_web_avatar import TRACK, quiet_wav

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)")
__all__ = ["media"]

MESSAGE = "document.querySelector('#avatar-message').textContent"


async def choose(page: Page, name: str, data: bytes) -> None:
    """Pick a file in Settings > Avatar, as a person would."""
    if not await page.evaluate("document.querySelector('#settings').open"):
        await page.click("#settings summary")
    file: FilePayload = {"name": name, "mimeType": "model/gltf-binary", "buffer": data}
    await page.set_input_files("#avatar-file", files=[file])


async def shown(page: Page, name: str, kind: str) -> None:
    await wait_until(page, f"{MESSAGE}.startsWith('Showing your avatar \"{name}\"')", 20)
    assert await page.evaluate("window.mrrrme.avatar3d.weights().kind") == kind
    assert await page.evaluate("getComputedStyle(document.querySelector('#avatar svg')).display") == "none"
    assert await page.locator("#avatar canvas").is_visible()


def reply(track: list[tuple[str, float]], seconds: float = 2.0) -> dict[str, Any]:
    return {
        "type": "llm_response", "text": "Hello.", "emotion": "Happy", "intensity": 0.8,
        "audio": quiet_wav(seconds), "audio_format": "wav", "duration": seconds, "turn_id": f"t-{new_id()[:6]}",
        "index": 0, "final": True, "synthetic": True,
        "visemes": [{"t": t, "viseme": v, "weight": 1.0} for v, t in track],
    }  # fmt: skip


# Sampled in the page on every animation frame (after the avatars' own frame callbacks), from before the reply is
# handed over until it has been spoken, so a busy test machine's slow round trips cannot skip a viseme (the recorder
# used to start after a round trip that saw `speaking`: once it came after the first three visemes).
RECORD = """(() => { const out = []; window.__samples = out; let began = false;
  const tick = () => { const a = window.mrrrme.avatar, m = window.mrrrme.avatar3d;
    began = began || a.speaking;
    if (m && began) { const w = m.weights(); out.push({v: a.viseme, kind: w.kind, ...w.morphs, ...w.expressions}); }
    if (!began || a.speaking || out.length < 5) requestAnimationFrame(tick); };
  requestAnimationFrame(tick); })()"""


async def play(page: Page) -> list[dict[str, Any]]:
    """Play TRACK (sil aa PP O U sil) as a Happy reply; the model's weights on every frame while it speaks."""
    await page.evaluate(RECORD)
    await page.evaluate(f"window.mrrrme.avatar.say({json.dumps(reply(TRACK))})")
    await wait_until(page, "window.mrrrme.avatar.speaking", 5)
    await wait_until(page, "!window.mrrrme.avatar.speaking", 10)
    samples: list[dict[str, Any]] = await page.evaluate("window.__samples")
    assert {"aa", "PP", "O", "U"} <= {s["v"] for s in samples}, [s["v"] for s in samples]
    return samples


async def hold(page: Page, viseme: str, morph: str, shot: str) -> None:
    """Hold one viseme for 2 s and screenshot the canvas once `morph` is over 0.6."""
    await page.evaluate(
        f"window.mrrrme.avatar.say({json.dumps(reply([('sil', 0), (viseme, 0.05), ('sil', 2.4)], 2.5))})"
    )
    await wait_until(page, f"window.mrrrme.avatar3d.weights().morphs.{morph} > 0.6", 5)
    await page.locator("#avatar canvas").screenshot(path=str(ARTIFACTS / shot))
    await wait_until(page, "!window.mrrrme.avatar.speaking", 10)


def peak(samples: list[dict[str, Any]], viseme: str, name: str) -> float:
    return float(max(s[name] for s in samples if s["v"] == viseme))


def low(samples: list[dict[str, Any]], viseme: str, name: str) -> float:
    return float(min(s[name] for s in samples if s["v"] == viseme))


def assert_follows(samples: list[dict[str, Any]], shapes: dict[str, str]) -> None:
    """Each viseme's shape is reached while that viseme lasts and is let go during another, and the
    mouth passes between shapes (two of them partly on at once) rather than snapping."""
    for viseme, name in shapes.items():
        assert peak(samples, viseme, name) > 0.6, (viseme, name, [round(s[name], 2) for s in samples])
        others = {"aa", "PP", "O", "U"} - {viseme}  # PP closes every mouth shape
        assert min(low(samples, other, name) for other in others) < 0.2, (viseme, name)
    names = list(shapes.values())
    blended = [s for s in samples if sum(0.12 < s[n] < 0.88 for n in names) >= 2]
    assert blended, "no frame between two mouth shapes: the transitions snap"


def image(path: Path) -> np.ndarray:
    return np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"), dtype=np.int16)


async def test_a_ready_player_me_like_glb_follows_visemes_emotion_and_blinks_and_stays_in_the_browser(
    gateway: str, media: tuple[Path, Path]
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    data = gltf.ready_player_me_like()
    urls: list[str] = []
    sent: list[bytes] = []  # every request body and socket frame the page sent

    def record(url: str, body: str | bytes | None) -> None:
        urls.append(url)
        sent.append(body.encode() if isinstance(body, str) else body or b"")

    async for page in browser_page(media, viewport=(1280, 800)):
        page.on("request", lambda request: record(request.url, request.post_data_buffer))
        page.on("websocket", lambda ws: ws.on("framesent", lambda frame: record("ws", frame)))
        await sign_up_and_consent(page, gateway, f"own-{new_id()[:8]}", camera=False, microphone=False)
        # The default page never loads three.js.
        assert not [url for url in urls if "avatar3d" in url], urls
        assert await page.evaluate("window.mrrrme.avatar3d") is None

        await choose(page, "me.glb", data)
        await shown(page, "me.glb", "oculus")
        assert [url for url in urls if url.endswith("/static/app/avatar3d.js")], "three.js was not loaded on demand"
        assert "never uploaded" in await page.evaluate(MESSAGE)
        rest = ARTIFACTS / "web-avatar3d-glb-rest.png"
        await page.locator("#avatar canvas").screenshot(path=str(rest))
        # The model is drawn (textured head on a clear background), not an empty canvas.
        assert image(rest).std() > 20, "the canvas looks empty"

        samples = await play(page)
        assert_follows(samples, {"aa": "viseme_aa", "PP": "viseme_PP", "O": "viseme_O", "U": "viseme_U"})
        # Oculus visemes carry speech alone: the ARKit jaw is not driven a second time.
        assert max(s["jawOpen"] for s in samples) < 0.05
        # The open mouth is visibly another picture than the resting face.
        await hold(page, "aa", "viseme_aa", "web-avatar3d-glb-aa.png")
        opened = image(ARTIFACTS / "web-avatar3d-glb-aa.png")
        assert (np.abs(opened - image(rest)).max(axis=-1) > 40).sum() > 30, "the rendered mouth did not move"
        # Happy at 0.8: the ARKit smile; then sad: the frown, the smile let go.
        await wait_until(page, "window.mrrrme.avatar3d.weights().morphs.mouthSmileLeft > 0.5", 3)
        await page.evaluate("window.mrrrme.avatar.express('Sad', 1)")
        await wait_until(page, "(w => w.mouthFrownLeft > 0.5 && w.mouthSmileLeft < 0.1 && w.browInnerUp > 0.5)"
                         "(window.mrrrme.avatar3d.weights().morphs)", 3)  # fmt: skip
        # It blinks within a few seconds (a blink is 140 ms; poll faster than that).
        for _ in range(300):
            if await page.evaluate("window.mrrrme.avatar3d.weights().morphs.eyeBlinkLeft > 0.5"):
                break
            await asyncio.sleep(0.03)
        else:
            raise AssertionError("the 3D avatar never blinked in 9 s")
        await page.screenshot(path=str(ARTIFACTS / "web-avatar3d-app-1280x800.png"))

        # After a reload it is still there, read back from this browser's storage ...
        await page.reload()
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector("#connection:text('connected')", timeout=20_000)
        await shown(page, "me.glb", "oculus")
        # ... and nothing that left the page (requests, socket frames) carried the file.
        marker = b"mrrrme tests/gltf.py"
        assert not [body for body in sent if marker in body or len(body) > len(data) // 2], "the avatar file was sent"
        await page.set_viewport_size({"width": 390, "height": 844})
        await asyncio.sleep(0.3)
        await page.screenshot(path=str(ARTIFACTS / "web-avatar3d-app-390x844.png"))


async def test_arkit_only_glb_and_vrm_expressions_follow_the_visemes(gateway: str, media: tuple[Path, Path]) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    async for page in browser_page(media):
        await sign_up_and_consent(page, gateway, f"rig-{new_id()[:8]}", camera=False, microphone=False)
        await choose(page, "arkit.glb", gltf.arkit_only())
        await shown(page, "arkit.glb", "arkit")
        samples = await play(page)
        assert_follows(samples, {"aa": "jawOpen", "O": "mouthFunnel", "U": "mouthPucker"})
        assert peak(samples, "PP", "mouthPressLeft") > 0.4 and low(samples, "PP", "jawOpen") < 0.2
        assert max(s["mouthSmileLeft"] for s in samples) > 0.5  # Happy, plus the lips' own share
        # Listening while the person types: brows up (Happy's own brows alone give 0.25).
        await page.type("#say", "I wanted to tell you", delay=20)
        await wait_until(page, "window.mrrrme.avatar3d.weights().morphs.browInnerUp > 0.45", 3)
        await page.fill("#say", "")

        # A VRM replaces it: its expression presets move, and through them the morph targets they bind.
        await choose(page, "me.vrm", gltf.vrm())
        await shown(page, "me.vrm", "vrm")
        assert await page.locator("#avatar canvas").count() == 1, "the previous 3D avatar was not removed"
        samples = await play(page)
        assert_follows(samples, {"aa": "aa", "O": "oh", "U": "ou"})
        assert_follows(samples, {"aa": "A", "O": "O", "U": "U"})  # the bound morph targets themselves
        assert low(samples, "PP", "A") < 0.2
        await wait_until(page, "(w => w.happy > 0.5 && w.Joy > 0.5)((a => ({...a.morphs, ...a.expressions}))"
                         "(window.mrrrme.avatar3d.weights()))", 3)  # fmt: skip
        for _ in range(300):
            if await page.evaluate("window.mrrrme.avatar3d.weights().morphs.Blink > 0.5"):
                break
            await asyncio.sleep(0.03)
        else:
            raise AssertionError("the VRM never blinked in 9 s")
        await hold(page, "O", "O", "web-avatar3d-vrm-O.png")
        await page.type("#say", "and another thing", delay=20)
        await wait_until(page, "window.mrrrme.avatar3d.weights().expressions.relaxed > 0.25", 3)

        # Back to the built-in face: the canvas goes, the drawn face returns, and the file is forgotten.
        await page.click("#avatar-builtin")
        await wait_until(page, "window.mrrrme.avatar3d === null && !document.querySelector('#avatar canvas')", 3)
        assert await page.evaluate("getComputedStyle(document.querySelector('#avatar svg')).display") != "none"
        await page.reload()
        await page.get_by_role("button", name="Continue").click()
        await page.wait_for_selector("#connection:text('connected')", timeout=20_000)
        await asyncio.sleep(1.0)
        assert await page.evaluate("window.mrrrme.avatar3d") is None


async def test_a_file_that_cannot_be_used_says_why_and_keeps_the_built_in_avatar(
    gateway: str, media: tuple[Path, Path]
) -> None:
    async for page in browser_page(media):
        await sign_up_and_consent(page, gateway, f"bad-{new_id()[:8]}", camera=False, microphone=False)
        cases = [
            ("broken.glb", b"this is not a model at all" * 10, "it is not a readable VRM or glTF/GLB file"),
            ("statue.glb", gltf.glb([]), "it has no mouth shapes to move"),
        ]
        for name, data, reason in cases:
            await choose(page, name, data)
            await wait_until(page, f"{MESSAGE}.startsWith('Could not use \"{name}\"')", 20)
            message = await page.evaluate(MESSAGE)
            assert reason in message and message.endswith("Showing the built-in avatar."), message
            assert await page.evaluate("document.querySelector('#status').textContent") == message
            assert await page.evaluate("window.mrrrme.avatar3d") is None
            assert await page.locator("#avatar svg").is_visible()
            assert await page.locator("#avatar canvas").count() == 0
        assert not await page.locator("#avatar-builtin").is_visible()
        assert not await axe_violations(page), "Settings > Avatar has serious accessibility violations"
        ARTIFACTS.mkdir(exist_ok=True)
        await page.locator("#settings").screenshot(path=str(ARTIFACTS / "web-avatar3d-error.png"))
