"""The floor under any runner round trip here: two processes bouncing a line over pipes.

No JSON, no event loop: the parent writes a line and blocks reading the echo. What it costs is
what the kernel (and, on a VM, the hypervisor) charges to wake a process on each side, which a
persistent runner pays twice per call at one call in flight. Printed beside the runner's figures
so they can be read against the machine rather than in the abstract.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from report import Row, percentile

__all__ = ("measure",)

_ECHO = "import os\nwhile d := os.read(0, 65536):\n    os.write(1, d)\n"


def measure(calls: int) -> Row:
    """``calls`` blocking round trips of one short line through a child ``python -c`` echo."""
    child = subprocess.Popen([sys.executable, "-c", _ECHO], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
    assert child.stdin is not None and child.stdout is not None
    out, back = child.stdin.fileno(), child.stdout.fileno()
    line = b'{"jsonrpc":"2.0","id":1,"result":{}}\n'
    latencies: list[float] = []
    try:
        began = time.perf_counter()
        for _ in range(calls):
            start = time.perf_counter_ns()
            os.write(out, line)
            got = os.read(back, 65536)
            latencies.append((time.perf_counter_ns() - start) / 1000)
            if got != line:
                raise RuntimeError(f"the echo child answered {got!r}")
        elapsed = time.perf_counter() - began
    finally:
        child.stdin.close()
        child.wait()
        child.stdout.close()
    return Row("pipe ping-pong floor", 1, calls, percentile(latencies, 50),
               percentile(latencies, 99), calls / elapsed)
