"""The hand-built contender of ``make bench-compare`` (bench/compare/handbuilt) really works.

Its figures only mean something if the stack does the pipeline's work: a handful of items go in
through the Fastify endpoint, each is recorded in state by the Node worker and reported by the
Python worker (PyPI ``bullmq``) on the sink, a bad body gets a 400, and SIGTERM stops the whole
tree cleanly. Real processes on the local Redis, under a key prefix of this test's own.
"""

from __future__ import annotations

import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import anyio
import pytest
import redis

from motia_core.testing import missing, require_runtime

pytestmark = pytest.mark.anyio

HANDBUILT = Path(__file__).resolve().parents[2] / "bench" / "compare" / "handbuilt"
ITEMS = 5
BOUND_S = 30.0  # generous bound on every wait: a hang fails, a slow machine does not


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def stack_needs() -> None:
    require_runtime("node")
    if not (HANDBUILT / "node_modules" / ".package-lock.json").is_file():
        missing("the hand-built stack's npm packages", f"make test-deps, or npm ci --prefix "
                f"{HANDBUILT}")
    if importlib.util.find_spec("bullmq") is None:
        missing("the Python package bullmq", "make install (requirements/dev.lock has it)")


async def _wait_ready(base: str, process: subprocess.Popen[bytes], log: Path) -> None:
    async with aiohttp.ClientSession() as client:
        with anyio.fail_after(BOUND_S):
            while True:  # bounded by fail_after
                assert process.poll() is None, f"the stack exited: {log.read_text()[-2000:]}"
                try:
                    async with client.get(f"{base}/ready") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await anyio.sleep(0.05)


async def test_the_stack_runs_the_pipeline(stack_needs: None, redis_url: str, redis_prefix: str,
                                           tmp_path: Path) -> None:
    port, sink, log = _free_port(), tmp_path / "sink", tmp_path / "stack.log"
    prefix = redis_prefix.rstrip(":")
    env = {**os.environ, "HANDBUILT_REDIS_URL": redis_url, "HANDBUILT_PREFIX": prefix,
           "HANDBUILT_PYTHON": sys.executable}
    with open(log, "wb") as out:
        process = subprocess.Popen([str(HANDBUILT / "run.sh"), str(port)], env=env,
                                   stdout=out, stderr=out, stdin=subprocess.DEVNULL,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        await _wait_ready(base, process, log)
        async with aiohttp.ClientSession() as client:
            for i in range(ITEMS):
                async with client.post(f"{base}/pipeline",
                                       json={"id": f"item-{i}", "sink": str(sink)}) as response:
                    assert response.status == 200
                    assert await response.json() == {"accepted": f"item-{i}"}
            async with client.post(f"{base}/pipeline", json={"id": 7}) as response:
                assert response.status == 400
                assert "sink" in (await response.json())["error"]
        lines: list[str] = []
        with anyio.fail_after(BOUND_S):
            while len(lines) < ITEMS:  # bounded by fail_after; the workers append as they go
                lines = sink.read_text().splitlines() if sink.exists() else []
                await anyio.sleep(0.05)
        done = {line.split()[0]: float(line.split()[1]) for line in lines}
        assert sorted(done) == [f"item-{i}" for i in range(ITEMS)]
        assert all(abs(stamp - time.time()) < 3600 for stamp in done.values())  # a unix time
        client_redis = redis.Redis.from_url(redis_url, decode_responses=True)
        try:
            state = client_redis.hgetall(f"{prefix}:state:compare-pipeline")
        finally:
            client_redis.close()
        assert {k: json.loads(v) for k, v in state.items()} == {
            f"item-{i}": {"id": f"item-{i}", "recorded": True} for i in range(ITEMS)}
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
        try:
            code = process.wait(BOUND_S)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(BOUND_S)
            raise
    assert code == 0, f"SIGTERM should stop the stack cleanly: {log.read_text()[-2000:]}"
