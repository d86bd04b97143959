"""Every Redis key about a session is found by erasure (the keys module is the one place keys are made)."""

from __future__ import annotations

import inspect
from fnmatch import fnmatchcase
from typing import cast

from redis.asyncio import Redis

from mrrrme import keys
from mrrrme.erasure import erase_session_state
from mrrrme.stack.infra import RedisServer


def every_session_key(sid: str) -> list[str]:
    """Each per-session key builder, called with the session id and made-up other arguments."""
    built = []
    for builder in keys.PER_SESSION:
        others = [f"x{i}" for i in range(len(inspect.signature(builder).parameters) - 1)]
        built.append(builder(sid, *others))
    return built


def test_every_per_session_key_builder_is_listed_for_erasure() -> None:
    builders = {
        name
        for name, value in vars(keys).items()
        if inspect.isfunction(value) and next(iter(inspect.signature(value).parameters), "") == "sid"
    }
    pattern_builders = {"fusion_session_pattern", "session_patterns", "deadline_member"}
    assert builders - pattern_builders == {b.__name__ for b in keys.PER_SESSION}


def test_erasure_patterns_match_every_session_key_and_no_other_session() -> None:
    for key in every_session_key("sess-1"):
        assert any(fnmatchcase(key, p) for p in keys.session_patterns("sess-1")), key
        assert not any(fnmatchcase(key, p) for p in keys.session_patterns("sess")), key  # whole segment only


async def test_erasure_leaves_no_key_of_the_session_and_every_key_of_another(redis_server: RedisServer) -> None:
    redis = Redis.from_url(redis_server.url)
    try:
        mine, theirs = every_session_key("gone-1"), every_session_key("kept-1")
        for key in mine + theirs:
            await redis.set(key, b"1")
        await redis.zadd(keys.FUSION_DEADLINES, {keys.deadline_member("gone-1", "u1"): 1.0})
        await redis.zadd(keys.FUSION_DEADLINES, {keys.deadline_member("kept-1", "u2"): 1.0})
        deleted = await erase_session_state(redis, None, ["gone-1"])
        assert deleted == len(mine)
        assert [await redis.exists(key) for key in mine] == [0] * len(mine)
        assert [await redis.exists(key) for key in theirs] == [1] * len(theirs)
        raw = cast(list[bytes], await redis.zrange(keys.FUSION_DEADLINES, 0, -1))  # redis-py: a union for all forms
        members = [keys.member_parts(m) for m in raw]
        assert ("gone-1", "u1") not in members and ("kept-1", "u2") in members
    finally:
        await redis.delete(*every_session_key("kept-1"))
        await redis.zrem(keys.FUSION_DEADLINES, keys.deadline_member("kept-1", "u2"))
        await redis.aclose()
