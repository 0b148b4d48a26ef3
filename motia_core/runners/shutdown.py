"""Ending a runner's OS process: signals to its group, the shutdown ladder, reaping.

A runner runs in a session of its own (``pipes.open_piped_process``), so a signal to its process
group also reaches whatever it started (esbuild, a step's children). ``ladder`` walks the rungs
of the protocol's shutdown: ``shutdown`` + ``exit``, then SIGTERM to the group, then SIGKILL, each
given half of the budget; ``reap`` makes sure the group is gone and returns the exit code.
"""

from __future__ import annotations

import os
import signal

import anyio
import anyio.abc

from motia_core.protocol.errors import RpcError
from motia_core.protocol.rpc import Endpoint
from motia_core.runners.states import ShutdownRung

__all__ = ("ladder", "reap", "signal_group")

_STDERR_READ_S = 0.5


def signal_group(process: anyio.abc.Process, sig: signal.Signals) -> None:
    """``sig`` to the runner's process group (to the process alone where the group is not ours)."""
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        try:
            process.send_signal(sig)
        except ProcessLookupError:
            pass


async def ladder(process: anyio.abc.Process, endpoint: Endpoint | None,
                 budget_s: float) -> ShutdownRung:
    """Stop ``process``, politely first; returns the rung it took."""
    half = budget_s / 2
    with anyio.move_on_after(half):
        if endpoint is not None:
            try:
                await endpoint.request("shutdown")
                await endpoint.notify("exit")
            except RpcError:
                pass
        await process.wait()
        return ShutdownRung.POLITE
    signal_group(process, signal.SIGTERM)
    with anyio.move_on_after(half):
        await process.wait()
        return ShutdownRung.TERMINATED
    signal_group(process, signal.SIGKILL)
    await process.wait()
    return ShutdownRung.KILLED


async def reap(process: anyio.abc.Process, patience_s: float,
               stderr_read: anyio.Event | None = None) -> int:
    """Make sure the process group is gone and the process closed; return its exit code.

    ``patience_s``: how long a ladder being walked elsewhere may still take before SIGKILL
    (0 when nobody is stopping it: it has ended, or its channel broke and it must go now).
    ``stderr_read``: set once stderr has been read to its end; waited for (briefly) before the
    pipes are closed, so the last lines of a runner that exited (often its reason) are kept."""
    if process.returncode is None:
        if patience_s > 0:
            with anyio.move_on_after(patience_s):
                await process.wait()
        if process.returncode is None:
            signal_group(process, signal.SIGKILL)
    code = await process.wait()
    if stderr_read is not None:
        # Not for long: a child of the runner may still hold stderr open.
        with anyio.move_on_after(_STDERR_READ_S):
            await stderr_read.wait()
    # Whatever the runner started and left behind in its process group goes with it.
    signal_group(process, signal.SIGKILL)
    await process.aclose()
    return code
