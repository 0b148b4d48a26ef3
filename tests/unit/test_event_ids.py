"""``motia_core.events.new_id``: the ids made per event (event, message, lease receipt).

A counter after 64 random bits per process: unique within a process, and across processes
(a forked child draws its own prefix, so it cannot repeat its parent's ids).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

from motia_core.events import Event, new_id


def test_ids_are_32_hex_digits_and_unique_in_a_process() -> None:
    ids = [new_id() for _ in range(10_000)]
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
    assert len(set(ids)) == len(ids)
    assert Event(topic="t", trace_id="x").id != Event(topic="t", trace_id="x").id


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent, then out without cleanup
        try:
            os.write(write, " ".join(new_id() for _ in range(3)).encode())
        finally:
            os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    mine = [new_id() for _ in range(3)]
    assert len(child) == 3
    assert {i[:16] for i in child}.isdisjoint({i[:16] for i in mine})


def test_two_processes_draw_different_prefixes() -> None:
    code = "from motia_core.events import new_id; print(new_id())"
    other = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True,
                           text=True).stdout.strip()
    assert re.fullmatch(r"[0-9a-f]{32}", other)
    assert other[:16] != new_id()[:16]
