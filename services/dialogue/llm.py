"""Streaming chat clients: Groq through its own SDK, and any OpenAI-compatible server (vLLM, Ollama,
llama.cpp server) over plain HTTP. Both share one retry policy.

Retries (429, 5xx, timeouts, connection errors) happen only before the first token: once words have
streamed to the user, a retry would repeat them. `Retry-After` is honoured, capped so that the user
gets the fallback reply within a few seconds rather than silence. The Groq SDK's own retries are off so
that this policy is the only one.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from typing import Any, cast

import httpx

SENTENCE_END = re.compile(r"(?<=[.!?…])[\"')\]]*\s+")
RETRYABLE = {408, 409, 429, 500, 502, 503, 504}


class LlmError(RuntimeError):
    """The API could not give an answer (after the retries)."""


class _Transient(Exception):
    """One attempt failed in a way worth retrying (rate limit, server error, timeout, dropped connection)."""

    def __init__(self, reason: str, retry_after: str | None = None) -> None:
        super().__init__(reason)
        self.retry_after = retry_after


class ChatClient:
    """The retry policy around one streamed chat completion; subclasses make a single attempt."""

    def __init__(self, model: str, retries: int) -> None:
        self.model = model
        self.retries = retries

    async def aclose(self) -> None:
        raise NotImplementedError

    def _attempt(self, messages: list[dict[str, str]], max_tokens: int) -> AsyncIterator[str]:
        """Stream one completion's text deltas; raise `_Transient` or `LlmError` on failure."""
        raise NotImplementedError

    async def stream(self, messages: list[dict[str, str]], max_tokens: int) -> AsyncIterator[str]:
        for attempt in range(self.retries + 1):
            started = False
            try:
                async for delta in self._attempt(messages, max_tokens):
                    started = True
                    yield delta
                return
            except _Transient as exc:
                if started:
                    raise LlmError(f"LLM API broke off mid-reply: {exc}") from None
                if attempt >= self.retries:
                    raise LlmError(f"LLM API {exc}") from None
                await asyncio.sleep(_backoff(attempt, exc.retry_after))
        raise LlmError("LLM API kept failing")


class OpenAiCompatibleClient(ChatClient):
    """POST {base_url}/chat/completions with `stream: true`, read as server-sent events."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float, retries: int) -> None:
        super().__init__(model, retries)
        self.url = base_url.rstrip("/") + "/chat/completions"
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.AsyncClient(headers=headers, timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _attempt(self, messages: list[dict[str, str]], max_tokens: int) -> AsyncIterator[str]:
        body = {"model": self.model, "messages": messages, "stream": True, "max_tokens": max_tokens,
                "temperature": 0.7}  # fmt: skip
        try:
            async with self._http.stream("POST", self.url, json=body) as response:
                if response.status_code != 200:
                    await response.aread()
                    if response.status_code in RETRYABLE:
                        raise _Transient(f"answered HTTP {response.status_code}", response.headers.get("retry-after"))
                    raise LlmError(f"LLM API answered HTTP {response.status_code}")
                async for line in response.aiter_lines():
                    delta = _delta(line)
                    if delta == "":
                        return
                    if delta is not None:
                        yield delta
        except (httpx.TimeoutException, httpx.TransportError) as exc:
            raise _Transient(f"unreachable: {type(exc).__name__}") from None


class GroqClient(ChatClient):
    """Groq's chat completions through the `groq` SDK (base_url None: the SDK's own, or GROQ_BASE_URL)."""

    def __init__(self, base_url: str | None, api_key: str, model: str, timeout_s: float, retries: int) -> None:
        import groq  # the dialogue service's dependency only

        super().__init__(model, retries)
        self._groq = groq
        self._client = groq.AsyncGroq(
            api_key=api_key,
            base_url=base_url or None,
            timeout=httpx.Timeout(timeout_s, connect=min(timeout_s, 3.0)),
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def _attempt(self, messages: list[dict[str, str]], max_tokens: int) -> AsyncIterator[str]:
        groq = self._groq
        try:
            stream = await self._client.chat.completions.create(
                model=self.model,
                messages=cast(Any, messages),  # plain role/content dicts are what the SDK's TypedDicts describe
                stream=True,
                max_completion_tokens=max_tokens,
                temperature=0.7,
            )
            async with stream:
                async for chunk in stream:
                    content = chunk.choices[0].delta.content if chunk.choices else None
                    if content:
                        yield content
        except groq.APIStatusError as exc:
            if exc.status_code in RETRYABLE:
                raise _Transient(f"answered HTTP {exc.status_code}", exc.response.headers.get("retry-after")) from None
            raise LlmError(f"LLM API answered HTTP {exc.status_code}") from None
        except (groq.APIConnectionError, httpx.TimeoutException, httpx.TransportError) as exc:
            # APITimeoutError is an APIConnectionError; a stream cut mid-way surfaces as httpx's own error
            raise _Transient(f"unreachable: {type(exc).__name__}") from None


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
