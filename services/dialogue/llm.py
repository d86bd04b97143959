"""An OpenAI-compatible streaming chat client (Groq, vLLM, Ollama, llama.cpp server all speak it).

Retries (429, 5xx, timeouts, connection errors) happen only before the first token: once words have
streamed to the user, a retry would repeat them. `Retry-After` is honoured, capped so that the user
gets the fallback reply within a few seconds rather than silence.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any

import httpx

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class LlmError(RuntimeError):
    """The API could not give an answer (after the retries)."""


class ChatClient:
    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float, retries: int) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.retries = retries
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def stream(self, messages: list[dict[str, str]], max_tokens: int) -> AsyncIterator[str]:
        body = {"model": self.model, "messages": messages, "stream": True, "max_tokens": max_tokens,
                "temperature": 0.7}  # fmt: skip
        for attempt in range(self.retries + 1):
            started = False
            try:
                async with self._http.stream("POST", self.url, json=body) as response:
                    if response.status_code != 200:
                        await response.aread()
                        if response.status_code in RETRYABLE and attempt < self.retries:
                            await asyncio.sleep(_backoff(attempt, response.headers.get("retry-after")))
                            continue
                        raise LlmError(f"LLM API answered HTTP {response.status_code}")
                    async for line in response.aiter_lines():
                        delta = _delta(line)
                        if delta is None:
                            continue
                        if delta == "":
                            return
                        started = True
                        yield delta
                    return
            except (httpx.TimeoutException, httpx.TransportError) as exc:
                if started or attempt >= self.retries:
                    raise LlmError(f"LLM API unreachable: {type(exc).__name__}") from None
                await asyncio.sleep(_backoff(attempt, None))
        raise LlmError("LLM API kept failing")


def _backoff(attempt: int, retry_after: str | None) -> float:
    try:
        requested = float(retry_after) if retry_after else 0.0
    except ValueError:
        requested = 0.0
    return float(min(2.0, max(requested, 0.25 * 2**attempt)))


def _delta(line: str) -> str | None:
    """The text of one server-sent event line; '' for the end of the stream, None for nothing."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return ""
    try:
        event: Any = json.loads(data)
        content = event["choices"][0].get("delta", {}).get("content")
    except (ValueError, KeyError, IndexError, TypeError):
        return None
    return content or None


async def sentences(deltas: AsyncIterator[str]) -> AsyncIterator[str]:
    """Group a token stream into sentences as soon as each one ends."""
    buffer = ""
    async for delta in deltas:
        buffer += delta
        while (match := SENTENCE_END.search(buffer)) is not None:
            sentence, buffer = buffer[: match.start()].strip(), buffer[match.end() :]
            if sentence:
                yield sentence
    if buffer.strip():
        yield buffer.strip()
