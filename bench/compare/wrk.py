"""GET load from ``wrk`` (Debian's C load generator) instead of the aiohttp client.

The aiohttp client in the bench process saturates before a fast server does, which hides part
of the gap between an api step and bare aiohttp; ``wrk`` does not. One ``wrk`` run is
``-t1 -c32 -d<seconds>s --latency`` against one URL (one thread: the machine is small and the
server needs the cores more than wrk does); its summary is parsed into a ``Run``. When ``wrk`` is
not installed the rows say so (``scripts/bench-deps.sh`` installs it) and nothing else changes.
"""

from __future__ import annotations

import math
import re
import shutil

import anyio

from .figures import Run

__all__ = ("CONNECTIONS", "missing", "run")

CONNECTIONS = 32
_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_PERCENTILE = re.compile(r"^\s*(50|99)(?:\.0+)?%\s+([\d.]+)(us|ms|s|m)\s*$", re.M)
_TOTAL = re.compile(r"^\s*(\d+) requests in ([\d.]+)(us|ms|s|m),", re.M)
_NON_2XX = re.compile(r"Non-2xx or 3xx responses:\s*(\d+)")
_SOCKET = re.compile(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)")


def missing() -> str | None:
    """Why the wrk rows cannot be measured, or None."""
    if shutil.which("wrk") is None:
        return "wrk is not installed (scripts/bench-deps.sh, or as root: apt-get install wrk)"
    return None


def parse(text: str, duration_s: float) -> Run:
    """A ``Run`` from wrk's ``--latency`` summary; raises ValueError when it has none."""
    total = _TOTAL.search(text)
    if total is None:
        raise ValueError(f"no 'N requests in T' line in wrk's output: {text[-300:]!r}")
    requests = int(total.group(1))
    elapsed_s = float(total.group(2)) * _UNITS_MS[total.group(3)] / 1e3
    percentiles = {int(q): float(v) * _UNITS_MS[u] for q, v, u in _PERCENTILE.findall(text)}
    errors = sum(int(n) for n in _NON_2XX.findall(text))
    if (socket := _SOCKET.search(text)) is not None:
        errors += sum(int(n) for n in socket.groups())
    ok = max(requests - errors, 0)
    return Run(requests, ok, errors, elapsed_s or duration_s, percentiles.get(50, math.nan),
               percentiles.get(99, math.nan))


async def run(url: str, duration_s: float) -> Run:
    """One bounded wrk run against ``url`` (127.0.0.1 only)."""
    assert url.startswith("http://127.0.0.1:"), "loopback only"
    argv = ["wrk", "-t1", f"-c{CONNECTIONS}", f"-d{duration_s:g}s", "--latency",
            "--timeout", "10s", url]
    with anyio.fail_after(duration_s + 30):
        done = await anyio.run_process(argv, check=False)
    text = done.stdout.decode(errors="replace")
    if done.returncode != 0:
        raise RuntimeError(f"wrk exited with {done.returncode}: "
                           f"{done.stderr.decode(errors='replace')[-300:]}")
    return parse(text, duration_s)
