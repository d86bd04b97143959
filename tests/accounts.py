"""Accounts for tests: a fresh user per call, logged in, with the consent the test asks for."""

from __future__ import annotations

import asyncio

from gateway.client import sign_in
from mrrrme.contracts import new_id

PASSWORD = "correct horse battery staple"


async def new_user(base_url: str, prefix: str = "user", camera: bool = True, microphone: bool = True) -> str:
    """Sign up `<prefix>-<random>` and return its token (consent recorded as given)."""
    username = f"{prefix}-{new_id()[:10]}"
    return await asyncio.to_thread(sign_in, base_url, username, PASSWORD, camera, microphone)
