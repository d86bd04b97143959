"""Mesh overhead (DESIGN.md section 6): the same lite backends called in one process vs through NATS.

    .venv/bin/python -m bench.mesh_overhead [--turns 30]

A turn's critical path through perception is utterance -> asr -> transcript -> text -> text emotion
(voice runs beside asr). In process, that is `AsrService.process` then `TextService.process` on this
thread: the same code the services run, without the broker. Through the mesh, the same services run in
this process on a private nats-server, and the time is from publishing the utterance to receiving the
text emotion. The difference is what the mesh costs per turn: MessagePack encoding and validation, two
hops through the broker, the model-thread hand-offs and the micro-batchers' wait for a batch to fill
(`max_wait_ms`, measured at the defaults and at 10 ms each, the defaults until 2026-12-03).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")

SENTENCES = [
    "I had a really long day at work today",
    "I feel a bit tired and sad tonight",
    "My friend called me and we laughed a lot",
]


def utterances(session_id: str, count: int) -> list[object]:
    import numpy as np

    from mrrrme.contracts import Utterance, new_id
    from tests.speech import silence, synthesize

    clips = [np.concatenate([silence(0.2), synthesize(s), silence(0.2)]).tobytes() for s in SENTENCES]
    return [
        Utterance(session_id=session_id, utterance_id=new_id(), pcm=clips[i % len(clips)], started_at=0, ended_at=1)
        for i in range(count)
    ]


def in_process(turns: int) -> list[float]:
    from services.asr.service import AsrService
    from services.asr.settings import AsrSettings
    from services.text.service import TextService
    from services.text.settings import TextSettings

    asr, text = AsrService(AsrSettings(backend="lite")), TextService(TextSettings(backend="lite"))
    for service in (asr, text):
        service.load()
        service.warm_up()
    times = []
    for unit in utterances("inproc", turns):
        started = time.perf_counter()
        (transcript,) = asr.process([unit])  # type: ignore[list-item]
        text.process([transcript])  # type: ignore[list-item]
        times.append(1000 * (time.perf_counter() - started))
    return times


async def through_nats(turns: int, max_wait_ms: float | None) -> list[float]:
    import nats
    from nats.aio.msg import Msg

    from mrrrme import subjects
    from mrrrme.contracts import encode
    from mrrrme.runtime import sync_with_server
    from mrrrme.stack.infra import NatsServer
    from services.asr.service import AsrService
    from services.asr.settings import AsrSettings
    from services.text.service import TextService
    from services.text.settings import TextSettings

    waits: dict[str, Any] = {} if max_wait_ms is None else {"max_wait_ms": max_wait_ms}
    with NatsServer() as server:
        asr = AsrService(AsrSettings(nats_url=server.url, backend="lite", **waits))
        text = TextService(TextSettings(nats_url=server.url, backend="lite", **waits))
        client = await nats.connect(server.url)
        arrived = asyncio.Event()

        async def done(_: Msg) -> None:
            arrived.set()

        await client.subscribe(subjects.text_emotion("mesh"), cb=done)
        await sync_with_server(client)
        times = []
        async with asr, text:
            for unit in utterances("mesh", turns):
                arrived.clear()
                started = time.perf_counter()
                await client.publish(subjects.utterance("mesh"), encode(unit))  # type: ignore[arg-type]
                await asyncio.wait_for(arrived.wait(), 30)
                times.append(1000 * (time.perf_counter() - started))
        await client.close()
    return times


def median(values: list[float]) -> float:
    return statistics.median(values[2:])  # the first turns warm caches


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--turns", type=int, default=30)
    args = parser.parse_args()
    from services.asr.settings import AsrSettings
    from services.text.settings import TextSettings

    # Interleaved, so a change in the machine's speed during the run affects both sides alike.
    local, mesh_default, mesh_waiting = [], [], []
    for _ in range(3):
        local += in_process(args.turns // 3)
        mesh_default += asyncio.run(through_nats(args.turns // 3, None))
        mesh_waiting += asyncio.run(through_nats(args.turns // 3, 10.0))
    base = median(local)
    defaults = f"asr {AsrSettings().max_wait_ms:g} ms, text {TextSettings().max_wait_ms:g} ms"
    print("| path | median ms per turn (utterance -> text emotion) | overhead vs in process |\n|---|---|---|")
    print(f"| in process (AsrService.process + TextService.process) | {base:.1f} | - |")
    print(f"| through NATS, the default batch waits ({defaults}) | {median(mesh_default):.1f} | "
          f"{median(mesh_default) - base:+.1f} ms |")  # fmt: skip
    print(f"| through NATS, 10 ms batch waits each | {median(mesh_waiting):.1f} | "
          f"{median(mesh_waiting) - base:+.1f} ms |")  # fmt: skip


if __name__ == "__main__":
    main()
