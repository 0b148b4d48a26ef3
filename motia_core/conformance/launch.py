"""Starting a runner for a scenario the way the core does, and pumping its pipes.

Same launch contract as ``motia_core.runners.process``: argv from the spec, the project root
as cwd, the launch environment, a session (process group) of its own, stdin/stdout as plain
pipes. The pumps feed every stdout line to the ``Session`` and write its replies; on the way
out the whole process group is killed, so a handler left sleeping cannot outlive its scenario.
"""

from __future__ import annotations

import math
import os
import signal
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import anyio.abc
from anyio.streams.text import TextReceiveStream

from motia_core.conformance.fakecore import FakeCore
from motia_core.conformance.session import CLOSE, Session
from motia_core.protocol.framing import FrameTooLarge, LineBuffer
from motia_core.runners.pipes import PipeReceiveStream, PipeSendStream, open_piped_process

__all__ = ("open_session",)


@asynccontextmanager
async def open_session(argv: Sequence[str], *, cwd: Path, env: Mapping[str, str],
                       core: FakeCore) -> AsyncIterator[Session]:
    """Start the runner as the core does (own session, cwd = project root, the launch env) and
    pump its pipes until the block ends; then make sure the process group is gone."""
    process, stdout, stdin = await open_piped_process(argv, cwd=cwd, env=env)
    session = Session(core)
    outbox_send, outbox = anyio.create_memory_object_stream[bytes](max_buffer_size=math.inf)
    session.sender = _sender(outbox_send)
    # Entered by hand so that the block's own exception (a ScenarioFailed) propagates as
    # itself, not wrapped in an exception group by the task group around the pumps.
    tg = anyio.create_task_group()
    await tg.__aenter__()
    try:
        tg.start_soon(_write, outbox, stdin)
        tg.start_soon(_read, stdout, session)
        tg.start_soon(_stderr, process, session)
        tg.start_soon(_reap, process, session)
        yield session
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process, session)
        tg.cancel_scope.cancel()
        await tg.__aexit__(None, None, None)
        with anyio.CancelScope(shield=True):
            await process.aclose()
            await stdin.aclose()
            await stdout.aclose()
            outbox_send.close()


def _sender(outbox: Any) -> Callable[[bytes], None]:
    def send(line: bytes) -> None:
        try:
            outbox.send_nowait(line)
        except (anyio.ClosedResourceError, anyio.BrokenResourceError):
            pass  # stdin was closed (by the scenario, or because the runner is gone)
    return send


async def _write(outbox: Any, stdin: PipeSendStream) -> None:
    async with outbox:
        async for line in outbox:
            if line == CLOSE:
                await stdin.aclose()
                return
            try:
                await stdin.send(line)
            except (anyio.BrokenResourceError, anyio.ClosedResourceError):
                return  # the runner is gone; the reader and the reaper report it


async def _read(stdout: PipeReceiveStream, session: Session) -> None:
    lines = LineBuffer(session.max_message_bytes)
    try:
        while True:
            chunk = await stdout.receive()
            lines.limit = session.max_message_bytes
            for line in lines.feed(chunk):
                for reply in session.on_line(line):
                    session.send(reply)
            session.wake()
    except FrameTooLarge as exc:
        session.violations.append(f"the runner sent a line over maxMessageBytes: {exc}")
    except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
        if lines.pending:
            session.violations.append(f"stdout ended in the middle of a line ({lines.pending} "
                                      "bytes without a newline)")
    session.stdout_closed = True
    session.wake()


async def _stderr(process: anyio.abc.Process, session: Session) -> None:
    assert process.stderr is not None
    rest = ""
    try:
        async for text in TextReceiveStream(process.stderr, errors="replace"):
            rest += text
            *lines, rest = rest.split("\n")
            session.stderr.extend(lines)
            del session.stderr[:-200]
    except (anyio.ClosedResourceError, anyio.BrokenResourceError):
        pass
    if rest:
        session.stderr.append(rest)


async def _reap(process: anyio.abc.Process, session: Session) -> None:
    session.exit_code = await process.wait()
    session.wake()


async def _stop(process: anyio.abc.Process, session: Session) -> None:
    if process.returncode is None:
        session.close_stdin()  # end of input means exit
        with anyio.move_on_after(2):
            await process.wait()
    try:
        os.killpg(process.pid, signal.SIGKILL)  # the whole group: helpers and threads too
    except (ProcessLookupError, PermissionError):
        pass
    await process.wait()
