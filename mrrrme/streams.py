"""JetStream streams of the mesh: created idempotently by whichever process starts first.

Only durable work lives here (turns, reply sentences, records for the database, their dead letters):
small text and metadata messages, and the reply speech on its way to the gateway (synthetic audio,
never the person's: kept at most `REPLY_AUDIO_MAX_AGE_S` and removed as soon as the gateway took it).
Raw media never goes into a file-backed stream (DESIGN.md section 2.1, privacy rule P1).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time

import nats.errors
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError, ServiceUnavailableError

from mrrrme import subjects

log = logging.getLogger("mrrrme.streams")
NO_PEERS_YET = 10005
"""JetStream's "no suitable peers for placement": a cluster that has not yet seen enough nodes for the
replica count (its nodes are still starting)."""
FORMING_WAIT_S = 60.0
"""How long a process waits for JetStream to answer at start (a cluster electing its leader)."""

DAY_S = 24 * 3600.0
REPLY_MAX_AGE_S = 600.0
"""A reply sentence nobody spoke within 10 minutes is of no use to anyone: it goes."""
REPLY_AUDIO_MAX_AGE_S = 120.0
"""Reply speech waits at most 2 minutes for its session's gateway (a closed socket's never comes)."""

STREAMS: tuple[StreamConfig, ...] = (
    StreamConfig(
        name=subjects.TURN_STREAM,
        subjects=[subjects.ALL_TURNS],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        max_age=DAY_S,
        max_msg_size=64 * 1024,
        discard=DiscardPolicy.OLD,
    ),
    # Finished turns and session ends on their way to the database: text only. Work queue, so a
    # record leaves the stream (and the disk) as soon as the memory service has stored it.
    StreamConfig(
        name=subjects.RECORD_STREAM,
        subjects=[subjects.ALL_RECORDS],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        max_age=7 * DAY_S,
        max_msg_size=64 * 1024,
        discard=DiscardPolicy.OLD,
    ),
    # Reply sentences, dialogue -> tts: text only, msg-id `<turn>:<index>`; a sentence leaves the stream
    # once tts has published its speech.
    StreamConfig(
        name=subjects.REPLY_STREAM,
        subjects=[subjects.ALL_REPLY_TEXT],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=120.0,
        max_age=REPLY_MAX_AGE_S,
        max_msg_size=64 * 1024,
        discard=DiscardPolicy.OLD,
    ),
    # Reply speech, tts -> the gateway: one consumer per session (filter `mrrrme.reply.audio.<sid>`), so a
    # sentence is removed once its gateway forwarded it; a session that went away leaves it 2 minutes.
    StreamConfig(
        name=subjects.REPLY_AUDIO_STREAM,
        subjects=[subjects.ALL_REPLY_AUDIO],
        retention=RetentionPolicy.WORK_QUEUE,
        storage=StorageType.FILE,
        duplicate_window=60.0,
        max_age=REPLY_AUDIO_MAX_AGE_S,
        max_msg_size=4 * 1024 * 1024,
        max_bytes=512 * 1024 * 1024,
        discard=DiscardPolicy.OLD,
    ),
    StreamConfig(
        name=subjects.DEAD_LETTER_STREAM,
        subjects=[subjects.ALL_DEAD_LETTERS],
        retention=RetentionPolicy.LIMITS,
        storage=StorageType.FILE,
        max_age=7 * DAY_S,
        max_msgs=10_000,
        max_msg_size=64 * 1024,
        discard=DiscardPolicy.OLD,
    ),
)


async def ensure_streams(js: JetStreamContext, replicas: int = 1) -> None:
    """`replicas`: copies of each stream across a JetStream cluster (3 survives losing one node; 1 for a
    single server). An existing stream is brought to the new count."""
    deadline = time.monotonic() + FORMING_WAIT_S
    for config in (dataclasses.replace(stream, num_replicas=replicas) for stream in STREAMS):
        while True:
            try:
                try:
                    await js.add_stream(config)
                except BadRequestError as exc:
                    if exc.err_code == NO_PEERS_YET:
                        raise
                    # Exists with another config (an older release, another replica count): bring it to this one.
                    await js.update_stream(config)
                break
            except (ServiceUnavailableError, nats.errors.TimeoutError, nats.errors.NoRespondersError) as exc:
                if time.monotonic() > deadline:
                    raise
                log.info("JetStream not ready yet (%s); retrying", type(exc).__name__)
                await asyncio.sleep(0.5)
            except BadRequestError as exc:  # only NO_PEERS_YET reaches here: a cluster still forming
                if exc.err_code != NO_PEERS_YET or time.monotonic() > deadline:
                    raise
                log.info("JetStream cluster still forming (%s); retrying", exc.description)
                await asyncio.sleep(0.5)
