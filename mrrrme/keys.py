"""Every Redis key of the mesh, in one place (as `subjects.py` is for subjects).

Services never format key strings themselves: they call these functions. Every key about a session has
the session id as a whole `:`-separated segment (`mrrrme:<area>:<sid>...`), which is what erasure
(`mrrrme/erasure.py`) matches on; `tests/test_keys.py` builds every per-session key below and fails
when erasure would miss one. The one key shared by all sessions (fusion's deadlines) holds members that
start with the session id, and erasure removes those members.
"""

from __future__ import annotations

PREFIX = "mrrrme"


def _key(*parts: str) -> str:
    return ":".join((PREFIX, *parts))


# --- per session -------------------------------------------------------------------------------------


def fusion_utterance(sid: str, uid: str) -> str:
    """Hash: transcript / voice / text -> that event (MessagePack), the join of one utterance."""
    return _key("fusion", sid, "u", uid)


def fusion_done(sid: str, uid: str) -> str:
    """Set once, by whichever fusion replica fuses the utterance (exactly once)."""
    return _key("fusion", sid, "done", uid)


def fusion_faces(sid: str) -> str:
    """List of the session's recent face readings, newest first, capped."""
    return _key("fusion", sid, "faces")


def fusion_live(sid: str) -> str:
    """Rate limit of the live face-only estimate."""
    return _key("fusion", sid, "live")


def fusion_session_pattern(sid: str) -> str:
    """Every fusion key of a session (for `SCAN MATCH`)."""
    return _key("fusion", sid, "*")


def session_preferences(sid: str) -> str:
    """The session's preferences (persona, style, language, voice), for the turn."""
    return _key("session", sid, "prefs")


def session_summary(sid: str) -> str:
    """The person's summary from earlier sessions, put there by the gateway for dialogue's prompts."""
    return _key("session", sid, "summary")


def dialogue_history(sid: str) -> str:
    """List of the conversation's last turns (role, text), for the model's context."""
    return _key("dialogue", sid, "history")


def dialogue_answered(sid: str, turn_id: str) -> str:
    """Set when a turn's reply went out: a redelivered turn is not answered twice."""
    return _key("dialogue", sid, "answered", turn_id)


def dialogue_reply(sid: str, turn_id: str) -> str:
    """List of a turn's reply sentences (MessagePack), as they were made: a redelivered turn replays the
    same words instead of a new reply."""
    return _key("dialogue", sid, "reply", turn_id)


PER_SESSION = (
    fusion_utterance,
    fusion_done,
    fusion_faces,
    fusion_live,
    session_preferences,
    session_summary,
    dialogue_history,
    dialogue_answered,
    dialogue_reply,
)
"""Every per-session key; erasure must match each of them (tested)."""


def session_patterns(sid: str) -> tuple[str, ...]:
    """`SCAN MATCH` patterns that find every key of a session: its id as a whole segment, last or not."""
    return _key("*", sid, "*"), _key("*", sid)


# --- shared by every session ---------------------------------------------------------------------------

FUSION_DEADLINES = _key("fusion", "deadlines")
"""Sorted set of "sid uid" members by deadline: any fusion replica sweeps it."""

SHARED_SETS = (FUSION_DEADLINES,)
"""Keys shared by every session whose members start with a session id (erasure removes those members)."""


def deadline_member(sid: str, uid: str) -> str:
    return f"{sid} {uid}"


def member_parts(member: bytes | str) -> tuple[str, str]:
    """(sid, uid) of a deadline member."""
    text = member.decode() if isinstance(member, bytes) else member
    sid, _, uid = text.partition(" ")
    return sid, uid


# --- accounts -------------------------------------------------------------------------------------------


def throttle_account(username_digest: str) -> str:
    """Failed-login counter of one account (keyed by a digest of the username, never the name)."""
    return _key("throttle", "account", username_digest)


def throttle_address(address: str) -> str:
    """Failed-login counter of one client address."""
    return _key("throttle", "ip", address)
