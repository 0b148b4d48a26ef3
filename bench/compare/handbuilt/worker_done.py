"""The Python event step's place: a worker (PyPI ``bullmq``) that appends "<id> <unix time>"
to the sink named in the job, as ``bench/compare/project/steps/pipe_done_step.py`` does.

Settings come from the environment (see ``common.js``); SIGTERM closes the worker.
"""

import asyncio
import os
import signal
import sys
import time

import redis.asyncio
from bullmq import Worker

URL = os.environ.get("HANDBUILT_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("HANDBUILT_PREFIX", "handbuilt")
CONCURRENCY = int(os.environ.get("HANDBUILT_CONCURRENCY", "10"))
# Seconds a drained worker blocks for the next job. With the package's default (5) this worker,
# once idle, sometimes picks a new job up only when that wait runs out: items stalled ~5 s (p99
# 5 s at 32 in flight, some over 10 s, in the runs of 2026-12-03). A team that saw it would set
# it lower, as here; HANDBUILT_PY_DRAIN_DELAY=5 shows the default.
DRAIN_DELAY_S = float(os.environ.get("HANDBUILT_PY_DRAIN_DELAY", "1"))


async def done(job, token):
    with open(job.data["sink"], "a") as sink:
        sink.write(f"{job.data['id']} {time.time():.6f}\n")


async def main() -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    worker = Worker("compare.pipe.recorded", done,
                    {"connection": URL, "prefix": PREFIX, "concurrency": CONCURRENCY,
                     "drainDelay": DRAIN_DELAY_S})
    worker.on("failed", lambda job, error: print(
        f"handbuilt worker_done: job {job.id} failed: {error}", file=sys.stderr, flush=True))
    client = redis.asyncio.Redis.from_url(URL)
    try:
        await client.ping()
        await client.set(f"{PREFIX}:ready:python", str(os.getpid()))
        await stop.wait()
    finally:
        await worker.close()
        await client.aclose()


if __name__ == "__main__":
    asyncio.run(main())
