"""Barge-in: the user speaking over a reply stops it, here and upstream (docs/architecture.md, Barge-in).

The gateway counts how long the reply audio it forwarded will play; speech onset within that time (and
a short grace after it) interrupts the turn: the client is told to stop playing (`interrupt`), dialogue
and tts are told to drop the rest of the turn (a control message), and any sentence of that turn still
in flight is never forwarded.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import msgspec

from gateway.server_events import Event, Interrupt, LlmResponse
from mrrrme import subjects
from mrrrme.contracts import Control
from mrrrme.interrupts import Interrupts

BARGE_IN_GRACE_S = 0.5
"""Speech this soon after the last reply audio should have finished still counts as talking over it."""


class BargeIn:
    def __init__(
        self,
        session_id: str,
        send: Callable[[Event], None],
        publish: Callable[[str, msgspec.Struct], Awaitable[None]],
    ) -> None:
        self._session_id = session_id
        self._send = send
        self._publish = publish
        # Until when the client is (by our count) playing reply audio, and of which turn.
        self._speaking_until = 0.0
        self._speaking_turn: str | None = None
        self._interrupted = Interrupts(64)

    def forward(self, reply: LlmResponse) -> bool:
        """Whether to forward this reply sentence; if so, the client plays it after what it has queued."""
        if reply.turn_id in self._interrupted:
            return False  # synthesized before the interrupt reached tts: never play it
        self._speaking_until = max(time.monotonic(), self._speaking_until) + reply.duration
        self._speaking_turn = reply.turn_id
        return True

    async def speech_started(self) -> None:
        """The user started speaking: if over a reply, stop the client now and the rest of the turn upstream."""
        if self._speaking_turn is None or time.monotonic() > self._speaking_until + BARGE_IN_GRACE_S:
            return
        turn_id, self._speaking_turn, self._speaking_until = self._speaking_turn, None, 0.0
        self._interrupted.add(turn_id)
        self._send(Interrupt(turn_id=turn_id))
        await self._publish(
            subjects.control(self._session_id),
            Control(session_id=self._session_id, action="interrupt", turn_id=turn_id),
        )
