"""Voice to voice with the lite profile: end of the user's speech -> first reply audio at the client.

    .venv/bin/python -m bench.voice_to_voice [--turns 20] [--trace] [--compare NAME=VALUE ...]

Starts a private NATS and Redis, the gateway and all seven services (lite) in this process (each model
on its own thread), then plays a spoken sentence (synthesized afresh each turn: piper's prosody is
sampled) and 2 s of silence in real time per turn through the Python client and times what arrives, then
listens to the whole reply before the next turn. Stages are measured at the client from the moment the
speech ended: transcript, the emotions, the fused emotion and the first `llm_response`. A turn with no
reply within 30 s is counted as lost.
`--trace` records every stage's OpenTelemetry span in memory and prints, per turn, when each span began
and ended (ms from the end of speech): where the time between the voice stopping and the reply goes.
`--compare` starts a second gateway with those settings on the same services; each turn's speech is
played to both, one after the other.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import statistics
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from gateway.client import GatewayClient

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
async def in_process_stack(variants: list[dict[str, str]]) -> AsyncIterator[list[str]]:
    """A private NATS and Redis, all seven lite services in this process and one gateway per variant (its
    settings overridden by the variant's `name=value` pairs); yields the gateways' URLs."""
    import uvicorn

    from gateway.server import server_config
    from gateway.settings import GatewaySettings
    from mrrrme.stack.infra import NatsServer, RedisServer, free_port
    from tests.test_turn_e2e import mesh

    with NatsServer() as nats_server, RedisServer() as redis_server:
        servers, urls = [], []
        for overrides in variants:
            port = free_port()
            values: dict[str, Any] = {"nats_url": nats_server.url, "redis_url": redis_server.url, "port": port}
            named: dict[str, Any] = overrides  # strings, which the settings parse as their fields' types
            settings = GatewaySettings(**values, **named)
            config = server_config(settings)
            config.log_level = "warning"
            servers.append((server := uvicorn.Server(config), asyncio.create_task(server.serve())))
            urls.append(f"http://127.0.0.1:{port}")
            while not server.started:  # one at a time: each migrates the same database under a file lock
                await asyncio.sleep(0.05)
        try:
            async with contextlib.AsyncExitStack() as stack:
                for service in mesh(nats_server.url, redis_server.url):
                    await stack.enter_async_context(service)
                yield urls
        finally:
            for server, _ in servers:
                server.should_exit = True
            for _, serving in servers:
                await serving


def span_timeline(spans: list[ReadableSpan], speech_end_ns: int) -> str:
    """The spans that began after the end of speech, in order: `service.span start-end` in ms from it."""
    later = sorted((s for s in spans if (s.start_time or 0) >= speech_end_ns), key=lambda s: s.start_time or 0)
    parts = []
    for s in later:
        scope = s.instrumentation_scope.name.removeprefix("mrrrme.") if s.instrumentation_scope else "?"
        start, end = (((t or 0) - speech_end_ns) / 1e6 for t in (s.start_time, s.end_time))
        parts.append(f"{scope}.{s.name} {start:.0f}-{end:.0f}")
    return "; ".join(parts)


def in_memory_spans() -> InMemorySpanExporter:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from mrrrme.runtime import tracing

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracing.install(provider)
    return exporter


async def one_turn(client: GatewayClient, speech: bytes, exporter: InMemorySpanExporter | None) -> dict[str, float]:
    """Speak, time what arrives from the end of speech, and listen to the whole reply."""
    from tests.speech import silence

    await client.stream_audio(speech, chunk_ms=40, realtime=True)
    speech_end, speech_end_ns = time.monotonic(), time.time_ns()
    # The silence after the speech comes in real time too, as a microphone sends it: sent at once, the end
    # of the turn would be decided as fast as the machine can, not as the silence is heard.
    tail = asyncio.create_task(client.stream_audio(silence(2.0).tobytes(), chunk_ms=40, realtime=True))
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
        print(f"  no reply within 30 s; arrived: {sorted(marks)}", flush=True)
    await tail
    # The person listens to the whole reply before speaking again (barge-in has its own bench).
    await asyncio.sleep(max(0.0, playing_until - time.monotonic()) + 0.5)
    with contextlib.suppress(TimeoutError):
        while True:
            await client.receive(timeout=0.2)
    if exporter is not None:
        print(f"  spans: {span_timeline(list(exporter.get_finished_spans()), speech_end_ns)}", flush=True)
        exporter.clear()
    return marks


def table(results: list[dict[str, float]]) -> None:
    print("| stage (from end of speech) | p50 ms | p95 ms |")
    print("|---|---|---|")
    for stage in ("transcript", "voice_emotion", "text_emotion", "fused_emotion", "llm_response"):
        values = [r[stage] * 1000 for r in results if stage in r]
        if values:
            print(f"| {stage} | {statistics.median(values):.0f} | {pct(values, 0.95):.0f} |")
    print(f"\n{len(results)} turns, {sum('llm_response' in r for r in results)} answered")


async def run(turns: int, trace: bool = False, compare: dict[str, str] | None = None) -> None:
    from gateway.client import GatewayClient, sign_in
    from tests.speech import synthesize

    exporter = in_memory_spans() if trace else None
    variants = [{}] if compare is None else [{}, compare]
    names = ["defaults"] if compare is None else ["defaults", " ".join(f"{k}={v}" for k, v in compare.items())]
    async with in_process_stack(variants) as urls:
        token = await asyncio.to_thread(sign_in, urls[0], "bench", "bench-password-not-secret")
        results: list[list[dict[str, float]]] = [[] for _ in urls]
        async with contextlib.AsyncExitStack() as stack:
            clients = [await stack.enter_async_context(GatewayClient.connect(url, token)) for url in urls]
            for client in clients:
                await client.send_json({"type": "preferences", "style": "brief"})
            # With --compare, each sentence is spoken to both gateways in turn: the same audio, the same
            # machine load, one run.
            for turn in range(turns):
                # piper samples its prosody (noise_scale), so every synthesis of a sentence is a new
                # utterance: a fresh one per turn, or the run measures five draws twenty times over.
                speech = (await asyncio.to_thread(synthesize, SENTENCES[turn % len(SENTENCES)], varied=True)).tobytes()
                for variant, client in enumerate(clients):
                    marks = await one_turn(client, speech, exporter)
                    results[variant].append(marks)
                    stages = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in marks.items())
                    print(f"turn {turn + 1:2d} [{names[variant]}]: {stages}", flush=True)
    for name, variant_results in zip(names, results, strict=True):
        print(f"\n{name}:\n")
        table(variant_results)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=20)
    parser.add_argument("--trace", action="store_true", help="print each turn's stage spans")
    parser.add_argument(
        "--compare", nargs="+", metavar="NAME=VALUE", default=None,
        help="a second gateway with these settings (GatewaySettings field names) hears every sentence too",
    )  # fmt: skip
    args = parser.parse_args()
    compare = None if args.compare is None else dict(pair.split("=", 1) for pair in args.compare)
    asyncio.run(run(args.turns, args.trace, compare))


if __name__ == "__main__":
    main()
