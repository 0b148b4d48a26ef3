"""Hot reload latency: from saving a step file to the new version being served (`motia dev`).

A copy of the reload fixture project runs with the file watcher on; each round saves a new
version of its api step and polls GET /greet (127.0.0.1, one client) until the new version
answers. The figure includes the watcher's debounce (``DEBOUNCE_S``), the runner reloading the
file and the project being re-derived. Bounded: a fixed number of rounds, each within 10 s.

    .venv/bin/python bench/reload_latency.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import anyio

from motia_core.runtime.reload import DEBOUNCE_S
from motia_core.testing import MotiaTestApp

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "projects" / "reload"


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory(prefix="motia-reload-") as tmp:
        root = Path(tmp) / "reload"
        shutil.copytree(FIXTURE, root)
        step = root / "steps" / "greet_step.py"
        async with MotiaTestApp(root, watch=True) as app:
            latencies: list[float] = []
            requests = 0
            for version in range(2, rounds + 2):
                text = step.read_text()
                step.write_text(text.replace(f'"version": {version - 1}',
                                             f'"version": {version}'))
                saved = time.perf_counter()
                with anyio.fail_after(10):
                    while (await app.get("/greet")).json.get("version") != version:
                        requests += 1
                latencies.append((time.perf_counter() - saved) * 1000)
            print(f"{rounds} saves of an api step under `motia dev` (debounce "
                  f"{DEBOUNCE_S * 1000:.0f} ms included); {requests} polling requests")
            print(f"save -> new version served: median {statistics.median(latencies):.0f} ms, "
                  f"min {min(latencies):.0f} ms, max {max(latencies):.0f} ms")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    anyio.run(main, args.rounds)
