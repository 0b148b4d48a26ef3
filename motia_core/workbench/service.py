"""What runs beside the app for the Workbench: the recorder's writer, log capture, the live hub.

:meth:`Workbench.run` is one task in the app's task group. It attaches the log sink, runs the
recorder's batch writer, and when cancelled (the app cancels it after its runners have stopped,
so the last spans are in) writes what is left and closes the store.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import anyio
import anyio.abc

from motia_core.http.policy import CorsPolicy
from motia_core.observability import LogSink, Recorder
from motia_core.workbench.live import LiveHub

__all__ = ("Workbench",)


class Workbench:
    """``record_logs=False`` leaves logging alone (``observability = "off"``)."""

    def __init__(self, recorder: Recorder, *, cors: Callable[[], CorsPolicy],
                 record_logs: bool = True) -> None:
        self.recorder = recorder
        self.record_logs = record_logs
        self.log_sink = LogSink()
        self.log_sink.listeners.append(recorder.on_log)
        self.live = LiveHub(cors=cors, snapshot=recorder.live.snapshot)
        recorder.subscribe(self.live.on_trace)
        recorder.log_listeners.append(self.live.on_log)

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
                  ) -> None:
        root, motia = logging.getLogger(), logging.getLogger("motia")
        level = motia.level
        if self.record_logs:
            root.addHandler(self.log_sink)
            # Steps' info logs are recorded whatever the console shows (its handler filters).
            if motia.getEffectiveLevel() > logging.INFO:
                motia.setLevel(logging.INFO)
        try:
            async with anyio.create_task_group() as tg:
                await tg.start(self.recorder.run)
                task_status.started()
        finally:
            root.removeHandler(self.log_sink)
            motia.setLevel(level)
            await self.recorder.aclose()  # shielded inside
