"""Speculative recognition for one socket: the recogniser starts when a silence begins, not when the turn
has been judged complete, so the transcript is ready (or nearly) by the time the turn ends.

The segmenter (gateway/vad.py) emits a `speculate` event with the audio so far when a silence reaches
`speculate_silence_ms` (before the turn model is first asked). That audio goes to asr as a request
(`mrrrme.utterance.early.<sid>`, queue group `asr`): the transcript comes back to this gateway alone,
and is held here. When the utterance that ends in that same silence is published, it carries the early
transcript (`Utterance.early`) and asr answers with it instead of recognising the audio again; when the
person went on speaking, the early transcript is dropped here, so nothing of it ever reaches fusion,
dialogue or the client.

Why the gateway holds it: asr replicas share a queue group, so the replica that recognised the early
audio is not the one the utterance will reach; the gateway is the session's home (DESIGN.md 2.2).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

import msgspec

from mrrrme import subjects
from mrrrme.contracts import Transcript, Utterance

log = logging.getLogger("mrrrme.gateway.speculation")

Request = Callable[[str, msgspec.Struct, float], Awaitable[bytes]]
"""Send a request into the mesh with the session's headers and return the reply's body."""
Count = Callable[[str], None]
"""Count an outcome: used, discarded, failed."""


class EarlyRecognition:
    def __init__(self, session_id: str, request: Request, count: Count, timeout_s: float) -> None:
        self._session_id = session_id
        self._request = request
        self._count = count
        self._timeout_s = timeout_s
        self._speculation: int | None = None
        self._task: asyncio.Task[Transcript | None] | None = None

    def start(self, speculation: int, utterance: Utterance) -> asyncio.Task[Transcript | None]:
        """Recognise `utterance` (the audio so far) now; an earlier speculation is moot."""
        self.discard()
        self._speculation = speculation
        self._task = asyncio.create_task(self._recognise(utterance), name=f"early-asr-{self._session_id}")
        return self._task

    def claim(self, speculation: int | None) -> asyncio.Task[Transcript | None] | None:
        """For the utterance ending now: the recognition of its very audio if `speculation` names the one
        under way (the caller awaits it: it started earlier than a new request would), else None and the
        utterance is recognised as usual. Called at once when the utterance ends, before a later silence
        can start another speculation."""
        task, matches = self._task, speculation is not None and speculation == self._speculation
        self._task, self._speculation = None, None
        if task is None:
            return None
        if not matches:
            task.cancel()
            self._count("discarded")
            return None
        task.add_done_callback(self._counted)
        return task

    def _counted(self, task: asyncio.Task[Transcript | None]) -> None:
        if not task.cancelled():
            self._count("used" if task.result() is not None else "failed")

    def discard(self) -> None:
        if self._task is not None:
            self._task.cancel()
            self._count("discarded")
        self._task, self._speculation = None, None

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _recognise(self, utterance: Utterance) -> Transcript | None:
        try:
            body = await self._request(subjects.early_utterance(self._session_id), utterance, self._timeout_s)
            return msgspec.msgpack.decode(body, type=Transcript)
        except asyncio.CancelledError:
            raise
        except msgspec.DecodeError:
            # asr refused the early audio (an ErrorEvent reply): the utterance is recognised as usual
            # and any refusal then reaches the session the normal way.
            return None
        except Exception as exc:  # no asr, a timeout, NATS away: the usual path still answers
            log.info("early recognition unavailable for this utterance: %s", type(exc).__name__)
            return None
