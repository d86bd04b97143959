"""Barge-in bookkeeping shared by dialogue and tts: the turns the user has talked over.

Control messages reach every replica (subscribed without a queue group), so each keeps this small,
bounded set and drops the rest of an interrupted turn.
"""

from __future__ import annotations

from collections import OrderedDict


class Interrupts:
    def __init__(self, size: int = 1024) -> None:
        self._turns: OrderedDict[str, None] = OrderedDict()
        self._size = size

    def add(self, turn_id: str) -> None:
        self._turns[turn_id] = None
        while len(self._turns) > self._size:
            self._turns.popitem(last=False)

    def __contains__(self, turn_id: object) -> bool:
        return turn_id in self._turns
