"""The built-in avatar in real Chromium: the mouth takes each viseme's shape and blends between them in
time with the sentence's audio; brows, lids and cheeks carry the reply's emotion at its intensity; it
blinks, and it listens while the person types. (The live reply's visemes from the real mesh are checked in
tests/test_web.py; here the page plays a sentence the test wrote, so every shape is known.)"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import re
import wave
from pathlib import Path
from typing import Any

import pytest

from mrrrme.contracts import new_id
from tests.test_web import ARTIFACTS, CHROMIUM, browser_page, media, sign_up_and_consent, wait_until

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)")
__all__ = ["media"]

TRACK = [("sil", 0.0), ("aa", 0.1), ("PP", 0.5), ("O", 0.9), ("U", 1.3), ("sil", 1.7)]


def quiet_wav(seconds: float) -> str:
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(16_000)
        wav.writeframes(b"\0\0" * int(16_000 * seconds))
    return base64.b64encode(out.getvalue()).decode()


def numbers(path: str) -> list[float]:
    return [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path)]


async def test_mouth_follows_the_visemes_with_blends_and_the_brows_follow_the_emotion(
    gateway: str, media: tuple[Path, Path]
) -> None:
    async for page in browser_page(media):
        await sign_up_and_consent(page, gateway, f"face-{new_id()[:8]}", camera=False, microphone=False)
        face = "window.mrrrme.avatar"
        # Emotion: each one moves the brows and cheeks its own way; intensity scales it.
        shapes: dict[str, Any] = {}
        for emotion, intensity in (("Neutral", 1), ("Happy", 1), ("Sad", 1), ("Angry", 1), ("Sad", 0.3)):
            await page.evaluate(f"{face}.express('{emotion}', {intensity})")
            await asyncio.sleep(1.0)  # the face eases over ~0.2 s
            ARTIFACTS.mkdir(exist_ok=True)
            await page.locator("#avatar").screenshot(path=str(ARTIFACTS / f"web-avatar-{emotion}-{intensity}.png"))
            shapes[f"{emotion}{intensity}"] = await page.evaluate(
                """(() => { const s = document.querySelector('#avatar svg');
                  const d = (p) => s.querySelector(`[data-part="${p}"]`).getAttribute('d');
                  return {brow: d('brow-left'), mouth: d('mouth'),
                          cheek: +s.querySelector('[data-part="cheek-left"]').getAttribute('opacity'),
                          face: window.mrrrme.avatar.face}; })()"""
            )
        brows = {name: numbers(shape["brow"]) for name, shape in shapes.items()}
        assert len({json.dumps(b) for b in brows.values()}) == 5, brows
        # Sad: the inner end (the path's last point) higher than the outer; angry: lower (SVG y grows down).
        assert brows["Sad1"][-1] < brows["Sad1"][1] and brows["Angry1"][-1] > brows["Angry1"][1], brows
        assert shapes["Happy1"]["cheek"] > shapes["Neutral1"]["cheek"] + 0.2, shapes
        assert shapes["Happy1"]["face"]["smile"] > 0.5 > shapes["Sad1"]["face"]["smile"] + 1, shapes
        assert abs(shapes["Sad0.3"]["face"]["browInner"]) < abs(shapes["Sad1"]["face"]["browInner"]) / 2

        # Visemes: a sentence of known shapes; sample the mouth while it plays.
        reply = {
            "type": "llm_response", "text": "Hello.", "emotion": "Happy", "intensity": 0.8,
            "audio": quiet_wav(2.0), "audio_format": "wav", "duration": 2.0, "turn_id": "t1", "index": 0,
            "final": True, "synthetic": True,
            "visemes": [{"t": t, "viseme": v, "weight": 1.0} for v, t in TRACK],
        }  # fmt: skip
        await page.evaluate(f"{face}.say({json.dumps(reply)})")
        await wait_until(page, f"{face}.speaking", 5)
        samples: list[dict[str, Any]] = []
        for _ in range(120):
            sample = await page.evaluate(
                f"({{v: {face}.viseme, open: {face}.mouth.open, width: {face}.mouth.width, round: {face}.mouth.round,"
                " d: document.querySelector('#avatar [data-part=mouth]').getAttribute('d')})"
            )
            samples.append(sample)
            if not await page.evaluate(f"{face}.speaking"):
                break
            await asyncio.sleep(0.015)
        seen = {s["v"] for s in samples}
        assert {"aa", "PP", "O", "U"} <= seen, seen
        # Each shape is reached while its viseme lasts (it eases in, so compare the extremes).
        widest = max(s["open"] for s in samples if s["v"] == "aa")
        closest = min(s["open"] for s in samples if s["v"] == "PP")
        assert widest > 0.7 and closest < 0.1, (widest, closest)
        rounds = {v: max(s["round"] for s in samples if s["v"] == v) for v in ("aa", "O", "U")}
        assert rounds["U"] > 0.7 and rounds["O"] > 0.5 and rounds["aa"] < 0.35, rounds
        assert len({s["d"] for s in samples}) > 10, "the mouth outline hardly changed"
        # Coarticulation: between aa (open 0.92) and PP (closed) the mouth passes through in-between openings.
        between = [s["open"] for s in samples if 0.15 < s["open"] < 0.75]
        assert len(between) >= 2, [round(s["open"], 2) for s in samples]
        await wait_until(page, f"!{face}.speaking && {face}.mouth.open < 0.05", 5)

        # Blinks (the upper lid comes down) within a few seconds, and it listens while the person types.
        blinked = False
        for _ in range(200):
            y = await page.evaluate("+document.querySelector('#avatar [data-part=\"lid-top-left\"]').getAttribute('y')")
            blinked = blinked or y > 95
            if blinked:
                break
            await asyncio.sleep(0.03)
        assert blinked, "the eyes never blinked in 6 s"
        assert await page.evaluate("document.querySelector('#avatar svg').dataset.listening") == "false"
        await page.type("#say", "I wanted to tell you", delay=20)
        await wait_until(page, "document.querySelector('#avatar svg').dataset.listening === 'true'", 2)
        await wait_until(page, f"{face}.face.listen > 0.5", 2)
