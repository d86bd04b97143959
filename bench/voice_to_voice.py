"""Voice to voice with the lite profile: end of the user's speech -> first reply audio at the client.

    .venv/bin/python -m bench.voice_to_voice [--turns 20]

Starts a private NATS and Redis, the gateway and all seven services (lite) in this process (each model
on its own thread), then plays a spoken sentence and 1 s of silence in real time per turn through the
Python client and times what arrives, then listens to the whole reply before the next turn. Stages are
measured at the client from the moment the speech ended: transcript, the emotions, the fused emotion and
the first `llm_response`. A turn with no reply within 30 s is counted as lost.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import AsyncIterator

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "I had a really long day at work today",
    "I feel a bit tired and sad tonight",
    "Can you help me relax a little",
    "My friend called me and we laughed a lot",
    "I am worried about my exams next week",
]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


@contextlib.asynccontextmanager
async def in_process_stack() -> AsyncIterator[str]:
    """A private NATS and Redis, the gateway and all seven lite services in this process; yields the
    gateway's URL."""
    import uvicorn

    from gateway.server import server_config
    from gateway.settings import GatewaySettings
    from mrrrme.stack.infra import NatsServer, RedisServer, free_port
    from tests.test_turn_e2e import mesh

    with NatsServer() as nats_server, RedisServer() as redis_server:
        port = free_port()
        settings = GatewaySettings(nats_url=nats_server.url, redis_url=redis_server.url, port=port)
        config = server_config(settings)
        config.log_level = "warning"
        server = uvicorn.Server(config)
        serving = asyncio.create_task(server.serve())
        while not server.started:
            await asyncio.sleep(0.05)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for service in mesh(nats_server.url, redis_server.url):
                    await stack.enter_async_context(service)
                yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            await serving


async def run(turns: int) -> None:
    from gateway.client import GatewayClient, sign_in
    from tests.speech import silence, synthesize

    async with in_process_stack() as url:
        token = await asyncio.to_thread(sign_in, url, "bench", "bench-password-not-secret")
        audio = {text: synthesize(text).tobytes() for text in SENTENCES}
        results: list[dict[str, float]] = []
        async with GatewayClient.connect(url, token) as client:
            await client.send_json({"type": "preferences", "style": "brief"})
            for turn in range(turns):
                text = SENTENCES[turn % len(SENTENCES)]
                await client.stream_audio(audio[text], chunk_ms=40, realtime=True)
                speech_end = time.monotonic()
                tail = asyncio.create_task(client.stream_audio(silence(1.0).tobytes(), chunk_ms=40))
                marks: dict[str, float] = {}
                playing_until = 0.0
                try:
                    async with asyncio.timeout(30):
                        async for _, event in client.events():
                            kind = event["type"]
                            if kind == "fused_emotion" and event.get("live"):
                                continue
                            marks.setdefault(kind, time.monotonic() - speech_end)
                            if kind == "llm_response":
                                playing_until = max(playing_until, time.monotonic()) + event["duration"]
                                if event["final"]:
                                    break
                except TimeoutError:  # a lost turn is a result, not the end of the run
                    print(f"turn {turn + 1:2d}: no reply within 30 s; arrived: {sorted(marks)}", flush=True)
                await tail
                # The person listens to the whole reply before speaking again (barge-in has its own bench).
                await asyncio.sleep(max(0.0, playing_until - time.monotonic()) + 0.5)
                with contextlib.suppress(TimeoutError):
                    while True:
                        await client.receive(timeout=0.2)
                results.append(marks)
                print(f"turn {turn + 1:2d}: " + ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in marks.items()),
                      flush=True)  # fmt: skip
    print()
    print("| stage (from end of speech) | p50 ms | p95 ms |")
    print("|---|---|---|")
    for stage in ("transcript", "voice_emotion", "text_emotion", "fused_emotion", "llm_response"):
        values = [r[stage] * 1000 for r in results if stage in r]
        if values:
            print(f"| {stage} | {statistics.median(values):.0f} | {pct(values, 0.95):.0f} |")
    print(f"\n{len(results)} turns, {sum('llm_response' in r for r in results)} answered")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20)
    asyncio.run(run(parser.parse_args().turns))


if __name__ == "__main__":
    main()
