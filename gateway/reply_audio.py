"""Reply audio served from memory for a short time, at the `audio_url` that the seed's client plays.

What is stored: the synthesized WAV of one reply sentence (AI-generated, `synthetic: true`), never
anything the person sent. Design (docs/protocol.md, *Seed client*): a capability URL. The seed's
client plays `audio_url` with an `<audio>` element, which can send neither a bearer token nor, from a
token kept in script, a cookie; so possession of the URL is the permission, and the URL is made to be
safe to hand out that way:

- unguessable: 256 random bits (`secrets.token_urlsafe(32)`), not derived from the session or turn;
- short-lived: gone after `reply_audio_ttl_s` (120 s), and when its session's socket closes;
- bounded: `reply_audio_per_session` sentences per session and `reply_audio_max_bytes` in all, the
  oldest dropped first (the inline `audio` in `llm_response` stays the reliable copy);
- not leaked: `Cache-Control: no-store`, `Referrer-Policy: no-referrer`, and the token is cut out of
  the access log.

It lives in this gateway replica's memory: behind several replicas the fetch must reach the replica that
holds the socket (sticky routing), or the client uses the inline audio.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import Response

from gateway.problems import problem

if TYPE_CHECKING:
    from gateway.settings import GatewaySettings

PATH = "/api/reply-audio"
_TOKEN_IN_PATH = re.compile(re.escape(PATH) + r"/[^\s?\"]+")


@dataclass(frozen=True)
class _Entry:
    session_id: str
    expires: float
    wav: bytes


class ReplyAudioStore:
    """Token -> WAV, in insertion order (every entry has the same lifetime, so also in expiry order)."""

    def __init__(self, ttl_s: float = 120.0, max_bytes: int = 64 * 1024 * 1024, per_session: int = 16) -> None:
        self.ttl_s = ttl_s
        self.max_bytes = max_bytes
        self.per_session = per_session
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._by_session: dict[str, list[str]] = {}
        self.bytes = 0

    @classmethod
    def from_settings(cls, settings: GatewaySettings) -> ReplyAudioStore:
        return cls(settings.reply_audio_ttl_s, settings.reply_audio_max_bytes, settings.reply_audio_per_session)

    @property
    def enabled(self) -> bool:
        return self.ttl_s > 0 and self.per_session > 0 and self.max_bytes > 0

    def put(self, session_id: str, wav: bytes, now: float | None = None) -> str | None:
        """Keep `wav` and return its URL path, or None when disabled or the audio alone exceeds the budget."""
        now = time.monotonic() if now is None else now
        self._expire(now)
        if not self.enabled or len(wav) > self.max_bytes:
            return None
        tokens = self._by_session.setdefault(session_id, [])
        while len(tokens) >= self.per_session:
            self._remove(tokens[0])
        while self.bytes + len(wav) > self.max_bytes and self._entries:
            self._remove(next(iter(self._entries)))
        token = secrets.token_urlsafe(32)
        self._entries[token] = _Entry(session_id, now + self.ttl_s, wav)
        self._by_session.setdefault(session_id, []).append(token)
        self.bytes += len(wav)
        return f"{PATH}/{token}.wav"

    def get(self, token: str, now: float | None = None) -> bytes | None:
        self._expire(time.monotonic() if now is None else now)
        entry = self._entries.get(token)
        return entry.wav if entry is not None else None

    def drop_session(self, session_id: str) -> None:
        """The socket closed: its reply audio goes with it."""
        for token in list(self._by_session.get(session_id, ())):
            self._remove(token)
        self._by_session.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._entries)

    def _expire(self, now: float) -> None:
        while self._entries:
            token, entry = next(iter(self._entries.items()))
            if entry.expires > now:
                return
            self._remove(token)

    def _remove(self, token: str) -> None:
        entry = self._entries.pop(token, None)
        if entry is None:
            return
        self.bytes -= len(entry.wav)
        tokens = self._by_session.get(entry.session_id)
        if tokens is not None:
            tokens.remove(token)
            if not tokens:
                del self._by_session[entry.session_id]


router = APIRouter()


@router.get(
    PATH + "/{name}",
    tags=["seed client"],
    summary="Reply audio at its audio_url",
    response_class=Response,
    responses={
        200: {"content": {"audio/wav": {}}, "description": "the reply sentence's WAV"},
        404: {"description": "expired, its socket closed, or never existed"},
    },
)
async def reply_audio(name: str, request: Request) -> Response:
    """The WAV of one reply sentence, for a short time after it was sent (the URL is the permission)."""
    store: ReplyAudioStore = request.app.state.gateway.reply_audio
    wav = store.get(name.removesuffix(".wav"))
    if wav is None:
        return problem(404, "not_found", "this reply audio has expired or never existed")
    return Response(
        wav,
        media_type="audio/wav",
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer", "X-Content-Type-Options": "nosniff"},
    )


class RedactReplyAudio(logging.Filter):
    """The access log must not hand out what the URL grants: the token is replaced by `...`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple) and any(isinstance(a, str) and PATH in a for a in record.args):
            record.args = tuple(_TOKEN_IN_PATH.sub(PATH + "/...", a) if isinstance(a, str) else a for a in record.args)
        return True


def install(app: FastAPI) -> None:
    app.include_router(router)
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactReplyAudio) for f in access.filters):
        access.addFilter(RedactReplyAudio())
