"""A local fake of Groq's chat API (POST /openai/v1/chat/completions, SSE streaming), which is also the
OpenAI-compatible shape that vLLM, Ollama and llama.cpp server speak.

Scripted per test: a queue of behaviours ("ok", "429", "500", "401", "hang") and the reply text; every request
body is recorded so tests can check what would have been sent to the cloud.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse

from mrrrme.stack.infra import free_port


@dataclass
class FakeLlm:
    reply: str = "I hear you. That sounds hard. What happened next?"
    script: list[str] = field(default_factory=list)
    """Behaviours for the next requests, in order; then 'ok'."""
    token_delay_s: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)
    root: str = ""
    """Where Groq's SDK is pointed (it appends /openai/v1/...)."""
    base_url: str = ""
    """The OpenAI-compatible /v1 root (what the openai backend is given)."""

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/openai/v1/chat/completions")
        async def chat(request: Request) -> Response:
            body = await request.json()
            self.requests.append(body)
            behaviour = self.script.pop(0) if self.script else "ok"
            if behaviour == "429":
                return JSONResponse(
                    {"error": {"message": "rate limited"}}, status_code=429, headers={"retry-after": "0"}
                )
            if behaviour == "500":
                return JSONResponse({"error": {"message": "boom"}}, status_code=500)
            if behaviour == "401":
                return JSONResponse({"error": {"message": "Invalid API Key"}}, status_code=401)
            if behaviour == "hang":
                await asyncio.sleep(60)
            return StreamingResponse(self._events(), media_type="text/event-stream")

        return app

    async def _events(self) -> AsyncIterator[bytes]:
        for word in self.reply.split(" "):
            chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
            yield f"data: {json.dumps(chunk)}\n\n".encode()
            if self.token_delay_s:
                await asyncio.sleep(self.token_delay_s)
        yield b"data: [DONE]\n\n"


@contextlib.asynccontextmanager
async def running(fake: FakeLlm) -> AsyncIterator[FakeLlm]:
    port = free_port()
    config = uvicorn.Config(
        fake.app(), host="127.0.0.1", port=port, log_level="warning", lifespan="off", timeout_graceful_shutdown=1
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    fake.root = f"http://127.0.0.1:{port}"
    fake.base_url = fake.root + "/openai/v1"
    try:
        yield fake
    finally:
        server.should_exit = True  # requests still open (a test's hung stream) are cancelled after 1 s
        await asyncio.wait_for(task, 10)
