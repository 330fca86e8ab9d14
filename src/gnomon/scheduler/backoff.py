"""Retrying what another scheduler held: short delays, growing while the contention lasts."""

from __future__ import annotations

import random


class Backoff:
    """Delays before retrying what another scheduler held: from a few milliseconds, doubling
    while the contention lasts, jittered so that two schedulers do not retry in step."""

    def __init__(self, first: float = 0.005, most: float = 0.2) -> None:
        self._first = first
        self._most = most
        self._next = first

    def next(self) -> float:
        delay = self._next * random.uniform(0.5, 1.5)
        self._next = min(self._next * 2, self._most)
        return delay

    def reset(self) -> None:
        self._next = self._first
