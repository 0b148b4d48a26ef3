"""Worker tasks that wait for work: a long-lived worker parks here and is woken by a producer.

The event bus's delivery workers and the rpc endpoint's request workers both keep their tasks
for the next message instead of starting one per message; this is the list of those waiting.
asyncio's Event, not anyio's (ten times the cost to make): the core runs on asyncio.
"""

from __future__ import annotations

import asyncio

__all__ = ("IdleWorkers",)


class IdleWorkers:
    """The workers waiting for work, newest first out."""

    __slots__ = ("_waiting",)

    def __init__(self) -> None:
        self._waiting: list[asyncio.Event] = []

    def __len__(self) -> int:
        return len(self._waiting)

    async def park(self) -> None:
        """Wait until :meth:`wake_one` picks this worker."""
        woken = asyncio.Event()
        self._waiting.append(woken)
        try:
            await woken.wait()
        finally:
            if not woken.is_set():  # cancelled while idle
                self._waiting.remove(woken)

    def wake_one(self) -> bool:
        """Wake a waiting worker; False when none waits."""
        if not self._waiting:
            return False
        self._waiting.pop().set()
        return True
