"""Barge-in: the person starts speaking over a reply -> `interrupt` at the client.

    .venv/bin/python -m bench.barge_in [--trials 20]

The stack of bench/voice_to_voice.py (everything in this process, lite profile). Each trial types a
message with the detailed reply style (three spoken sentences), waits for the first sentence's audio,
then plays a spoken sentence in real time through the Python client and times, from the first chunk
of that speech, the `interrupt` event (the client stops playback on it: the web client is silent
within a millisecond of it, tests/test_web.py) and whether any later sentence of the interrupted
reply still arrived. DESIGN.md's target: playback stops within 200 ms of the person starting to speak.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")

PROMPTS = ["Tell me what you think about my plan", "I keep thinking about my week", "Can we talk about work"]


async def run(trials: int) -> None:
    from bench.voice_to_voice import in_process_stack, pct
    from gateway.client import GatewayClient, sign_in
    from tests.speech import silence, synthesize

    speech = synthesize("Wait, stop, I have a question").tobytes()
    latencies: list[float] = []
    leaked = 0
    async with in_process_stack([{}]) as (url,):  # one gateway, with its default settings
        token = await asyncio.to_thread(sign_in, url, "barge", "bench-password-not-secret")
        async with GatewayClient.connect(url, token) as client:
            await client.send_json({"type": "preferences", "style": "detailed"})
            for trial in range(trials):
                await client.send_json({"type": "speech_end", "text": PROMPTS[trial % len(PROMPTS)]})
                async with asyncio.timeout(30):
                    async for _, event in client.events():
                        if event["type"] == "llm_response":
                            turn_id = event["turn_id"]
                            break
                started = time.monotonic()
                talking = asyncio.create_task(client.stream_audio(speech + silence(1.0).tobytes(), chunk_ms=40))
                interrupted_at = None
                # Until the reply to the interruption: every later sentence of the first turn is a leak.
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(20):
                        async for _, event in client.events():
                            if event["type"] == "interrupt" and event.get("turn_id") == turn_id:
                                interrupted_at = time.monotonic()
                            elif event["type"] == "llm_response" and event["turn_id"] == turn_id:
                                leaked += interrupted_at is not None
                            elif event["type"] == "llm_response" and event.get("final"):
                                break
                await talking
                if interrupted_at is None:
                    print(f"trial {trial + 1:2d}: no interrupt", flush=True)
                    continue
                latencies.append(1000 * (interrupted_at - started))
                print(f"trial {trial + 1:2d}: interrupt {latencies[-1]:.0f} ms after the speech began", flush=True)
                await asyncio.sleep(1.0)
    print()
    if latencies:
        print(f"speech onset -> interrupt at the client: p50 {statistics.median(latencies):.0f} ms, "
              f"p95 {pct(latencies, 0.95):.0f} ms, max {max(latencies):.0f} ms")  # fmt: skip
    print(f"interrupted: {len(latencies)} of {trials}; sentences of an interrupted reply after its interrupt: {leaked}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    asyncio.run(run(parser.parse_args().trials))


if __name__ == "__main__":
    main()
