"""JetStream streams of the mesh: created idempotently by whichever process starts first.

Only durable work lives here (turns, records for the database, their dead letters): small text and
metadata messages. Raw media never goes into a file-backed stream (DESIGN.md section 2.1, privacy rule P1).
"""

from __future__ import annotations

from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from mrrrme import subjects

DAY_S = 24 * 3600.0

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


async def ensure_streams(js: JetStreamContext) -> None:
    for config in STREAMS:
        try:
            await js.add_stream(config)
        except BadRequestError:
            # Exists with another config (an older release): bring it to this one.
            await js.update_stream(config)
