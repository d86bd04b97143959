"""Forget sessions outside the database: their Redis keys and their pending durable work.

Every Redis key the mesh keeps about a session has the session id as a whole `:`-separated segment
(`mrrrme:<area>:<sid>:...`), and the one shared sorted set (fusion deadlines) has members that start with
it; pending work is whatever the session still has on the durable streams. This is what `DELETE /api/me`
calls after the rows are gone, so a deleted user leaves nothing for a worker to pick up later.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from mrrrme import subjects

SHARED_SETS = ("mrrrme:fusion:deadlines",)


async def erase_session_state(redis: Any, js: JetStreamContext | None, session_ids: list[str]) -> int:
    """Delete the sessions' Redis keys and purge their pending turns and records. Returns keys deleted."""
    deleted = 0
    for sid in session_ids:
        keys = [key async for key in redis.scan_iter(match=f"mrrrme:*:{sid}:*", count=500)]
        keys += [key async for key in redis.scan_iter(match=f"mrrrme:*:{sid}", count=500)]
        if keys:
            deleted += int(await redis.delete(*keys))
        for shared in SHARED_SETS:
            members = [m for m in await redis.zrange(shared, 0, -1) if _starts_with(m, sid)]
            if members:
                await redis.zrem(shared, *members)
        if js is not None:
            for stream, subject in (
                (subjects.TURN_STREAM, subjects.turn(sid)),
                (subjects.RECORD_STREAM, subjects.turn_record(sid)),
                (subjects.RECORD_STREAM, subjects.session_ended(sid)),
            ):
                with contextlib.suppress(NotFoundError):
                    await js.purge_stream(stream, subject=subject)
    return deleted


def _starts_with(member: bytes | str, sid: str) -> bool:
    text = member.decode() if isinstance(member, bytes) else member
    return text.split(" ", 1)[0] == sid
