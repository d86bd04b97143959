"""axe-core on every page of the web client (landing, sign-up, consent, conversation after a typed turn),
in the light and the dark theme, at 1280x800 and at 390x844 (a phone), in real Chromium against the real
gateway and text mesh: no serious or critical violation. A screenshot of each page at each size is saved
under artifacts/ (web-<page>-<theme>-<width>.png).

axe-core comes from web/node_modules (pinned in web/package-lock.json) and is put into the page through
the DevTools protocol (`page.add_script_tag` would be an inline script, which the page's CSP refuses:
the test must not weaken the CSP it checks).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Page

from mrrrme.contracts import new_id
from mrrrme.stack.infra import NatsServer, RedisServer
from tests.accounts import PASSWORD
from tests.mesh import started
from tests.test_web import ARTIFACTS, CHROMIUM, browser_page, media, wait_until
from tests.test_web_ui import text_mesh

pytestmark = pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed (make browser)")
__all__ = ["media"]

AXE = Path(__file__).resolve().parent.parent / "web" / "node_modules" / "axe-core" / "axe.min.js"
SIZES = [(1280, 800), (390, 844)]


async def axe_violations(page: Page) -> list[dict[str, Any]]:
    if not await page.evaluate("typeof window.axe !== 'undefined'"):
        await page.evaluate(AXE.read_text())
    result: list[dict[str, Any]] = await page.evaluate(
        "axe.run(document, {resultTypes: ['violations']}).then(r => r.violations.map(v => ({id: v.id,"
        " impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ': ' +"
        " (n.failureSummary || ''))})))"
    )
    return [v for v in result if v["impact"] in ("serious", "critical")]


EFFECTIVE_THEME = (
    "document.documentElement.dataset.theme || (matchMedia('(prefers-color-scheme: dark)').matches ? 'dark' : 'light')"
)


async def set_theme(page: Page, theme: str) -> None:
    if await page.evaluate(EFFECTIVE_THEME) != theme:
        await page.click("#theme")
    assert await page.evaluate(EFFECTIVE_THEME) == theme


async def check_page(page: Page, name: str, found: dict[str, Any]) -> None:
    for theme in ("light", "dark"):
        await set_theme(page, theme)
        for width, height in SIZES:
            await page.set_viewport_size({"width": width, "height": height})
            await page.wait_for_timeout(150)  # layout and the chart's resize
            scroll_width = await page.evaluate("document.documentElement.scrollWidth")
            if scroll_width > width:
                wide = await page.evaluate(WIDER_THAN_VIEWPORT)
                found[f"{name} {theme} {width}x{height} overflow"] = f"scrolls sideways: {scroll_width}px, {wide}"
            violations = await axe_violations(page)
            if violations:
                found[f"{name} {theme} {width}x{height}"] = violations
            ARTIFACTS.mkdir(exist_ok=True)
            await page.screenshot(path=str(ARTIFACTS / f"web-{name}-{theme}-{width}.png"))


WIDER_THAN_VIEWPORT = """() => [...document.querySelectorAll('body *')]
  .filter((e) => e.getBoundingClientRect().right > document.documentElement.clientWidth + 1)
  .filter((e) => !e.closest('.scroll'))  // clipped by its scroll box: it cannot widen the page
  .slice(0, 5).map((e) => `${e.tagName.toLowerCase()}#${e.id}.${e.className}`)"""
"""The first elements that reach past the viewport's right edge: what makes a page scroll sideways."""


async def test_axe_finds_no_serious_violation_on_any_page_in_either_theme_or_size(
    gateway: str, nats_server: NatsServer, redis_server: RedisServer, media: tuple[Path, Path]
) -> None:
    assert AXE.exists(), "axe-core is missing: run `make web` (npm ci)"
    found: dict[str, Any] = {}
    errors: list[str] = []
    async with started(*text_mesh(nats_server.url, redis_server.url)):
        async for page in browser_page(media, viewport=SIZES[0], console_errors=errors):
            await page.goto(gateway)
            await page.get_by_role("heading", name="Create an account or log in").wait_for()
            await check_page(page, "landing", found)

            # Sign-up, with what a person sees when the server refuses: the error sentence is checked too.
            await page.fill("#username", f"axe-{new_id()[:8]}")
            await page.fill("#password", "letmein1")
            await page.press("#password", "Enter")
            await page.locator("#auth-error").filter(has_text="common").wait_for()
            await check_page(page, "signup", found)
            errors.clear()  # that refusal (a 400) is expected; from here on a normal session logs nothing

            await page.fill("#password", PASSWORD)
            await page.press("#password", "Enter")
            await page.get_by_text("Choose what MrrrMe may use").wait_for()
            await check_page(page, "consent", found)

            await page.get_by_role("button", name="Continue").click()
            await page.wait_for_selector("#connection:text('connected')", timeout=20_000)
            await page.fill("#say", "I feel a bit sad today, my week was hard")
            await page.press("#say", "Enter")
            await wait_until(page, "window.mrrrme.timeline.length >= 1", 60)
            await page.locator("#conversation li.assistant").first.wait_for(timeout=30_000)
            await page.get_by_text("Timeline as a table").click()
            await page.get_by_text("Settings", exact=True).click()
            await check_page(page, "conversation", found)
            # The check can fail: the old dark theme's button (white on #7aa7ff, 2.39:1) is reported.
            await page.evaluate(
                "(() => { const b = document.createElement('button'); b.textContent = 'Old button';"
                " b.style.background = '#7aa7ff'; b.style.color = '#fff'; b.id = 'old-button';"
                " document.querySelector('#say-form').append(b); })()"
            )
            control = await axe_violations(page)
            assert any(v["id"] == "color-contrast" and "#old-button" in json.dumps(v) for v in control), control
    assert not found, json.dumps(found, indent=1)
    assert errors == [], f"console errors: {errors}"
