"""`bench/otel_export.py`: the event pipeline with OpenTelemetry export on (to a local receiver)
and off.

The pipeline is bench/app's two Python event steps A -> B on the durable SQLite queue with traces
and logs recorded to SQLite (the `motia start` defaults), driven as bench/app_load.py's
``recording`` scenario does: ``--events`` emits, then wait until the bus is drained. With export
on, the spans go over OTLP/HTTP to a real receiver (tests/otlp_receiver.py) running as its *own
process* on 127.0.0.1, so its decoding is not counted; the core's CPU includes the SDK's export
thread, and each run ends with a flush of the queued spans inside the measured window. Off and
on alternate (off-on, on-off, ...) so both see the same machine; the medians are printed, with
the spans the receiver got (2 step spans + 1 emit span per event, plus the warm-up).

Figures: events/s, and the core's CPU time per event (this process, threads included; the
runners are other processes), which a busy shared machine disturbs less than the wall clock.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import anyio
from app_load import PROJECT, _scratch

from motia_core.testing import MotiaTestApp

__all__ = ("main",)

REPO = Path(__file__).resolve().parent.parent
TOPIC = "bench.chain.a"
WARMUP = 50


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="runs of each mode (median shown)")
    parser.add_argument("--events", type=int, default=1000, help="events per run")
    return parser.parse_args()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _receiver() -> tuple[subprocess.Popen[bytes], str]:
    port = _free_port()
    process = subprocess.Popen([sys.executable, "-m", "tests.otlp_receiver", "--port", str(port)],
                               cwd=REPO, stdout=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:  # bounded: until it listens
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return process, f"http://127.0.0.1:{port}"
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the OTLP receiver did not start") from None
            time.sleep(0.05)


def _received(url: str) -> int:
    with urllib.request.urlopen(f"{url}/count", timeout=10) as response:
        return int(json.loads(response.read())["spans"])


async def _run(events: int, endpoint: str | None) -> tuple[float, float]:
    """(events/s, core CPU µs per event) for one run."""
    extra = {"otel_endpoint": endpoint} if endpoint else {"otel": False}
    async with MotiaTestApp(PROJECT, queue="sqlite", motia_dir=_scratch(),
                            observability="sqlite", **extra) as app:
        assert (app.app.otel is not None) == bool(endpoint)
        for i in range(WARMUP):
            await app.emit(TOPIC, {"i": i})
        await app.settle()
        if app.app.otel is not None:
            await anyio.to_thread.run_sync(app.app.otel.force_flush)
        began, began_cpu = time.perf_counter(), time.process_time()
        for i in range(events):
            await app.emit(TOPIC, {"i": i})
        await app.settle(timeout_s=120)
        if app.app.otel is not None:  # the spans of this run leave inside the window
            await anyio.to_thread.run_sync(app.app.otel.force_flush)
        elapsed = time.perf_counter() - began
        cpu_us = (time.process_time() - began_cpu) / events * 1e6
    return events / elapsed, cpu_us


async def _bench(args: argparse.Namespace, url: str) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    await _run(200, None)  # warm the page cache, the runners' imports
    for run in range(args.runs):
        order = ("off", "on") if run % 2 == 0 else ("on", "off")
        for mode in order:
            results[mode].append(await _run(args.events, url if mode == "on" else None))
            rate, cpu = results[mode][-1]
            print(f"  run {run + 1} {mode:>3}: {rate:8.0f} events/s  {cpu:7.0f} µs CPU/event",
                  flush=True)
    return results


def main() -> None:
    args = _arguments()
    receiver, url = _receiver()
    try:
        results = anyio.run(_bench, args, url)
        received = _received(url)
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    off_rate = statistics.median(r for r, _ in results["off"])
    on_rate = statistics.median(r for r, _ in results["on"])
    off_cpu = statistics.median(c for _, c in results["off"])
    on_cpu = statistics.median(c for _, c in results["on"])
    expected = args.runs * (args.events + WARMUP) * 3
    print(f"\nevents via Python A -> B, sqlite queue, recording to sqlite; {args.events} events, "
          f"median of {args.runs} runs each, alternating ({os.cpu_count()} cores)")
    print(f"{'export':<8}{'events/s':>10}{'CPU µs/event':>15}")
    print(f"{'off':<8}{off_rate:>10.0f}{off_cpu:>15.0f}")
    print(f"{'on':<8}{on_rate:>10.0f}{on_cpu:>15.0f}")
    print(f"on/off: events/s x{on_rate / off_rate:.2f}, CPU/event x{on_cpu / off_cpu:.2f}")
    print(f"spans received: {received} of {expected} expected "
          "(2 step spans + 1 emit span per event)")


if __name__ == "__main__":
    main()
