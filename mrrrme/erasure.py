"""Forget sessions outside the database: their Redis keys and their pending durable work.

Every Redis key the mesh keeps about a session (`mrrrme/keys.py`) has the session id as a whole
`:`-separated segment, and the shared sorted sets have members that start with it; pending work is
whatever the session still has on the durable streams. This is what `DELETE /api/me` calls after the
rows are gone, so a deleted user leaves nothing for a worker to pick up later.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from mrrrme import keys, subjects


async def erase_session_state(redis: Any, js: JetStreamContext | None, session_ids: list[str]) -> int:
    """Delete the sessions' Redis keys and purge their pending turns, replies and records. Returns keys deleted."""
    deleted = 0
    for sid in session_ids:
        found = [
            key for pattern in keys.session_patterns(sid) async for key in redis.scan_iter(match=pattern, count=500)
        ]
        if found:
            deleted += int(await redis.delete(*found))
        for shared in keys.SHARED_SETS:
            members = [m for m in await redis.zrange(shared, 0, -1) if keys.member_parts(m)[0] == sid]
            if members:
                await redis.zrem(shared, *members)
        if js is not None:
            for stream, subject in (
                (subjects.TURN_STREAM, subjects.turn(sid)),
                (subjects.RECORD_STREAM, subjects.turn_record(sid)),
                (subjects.RECORD_STREAM, subjects.session_ended(sid)),
                (subjects.REPLY_STREAM, subjects.reply_text(sid)),
                (subjects.REPLY_AUDIO_STREAM, subjects.reply_audio(sid)),
            ):
                with contextlib.suppress(NotFoundError):
                    await js.purge_stream(stream, subject=subject)
    return deleted
