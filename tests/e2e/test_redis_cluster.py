"""Several `motia start` processes of one project on one Redis share the work (issue 17): a
stream change made through one instance reaches the WebSocket clients of another, in order; each
tick of a cron step runs once across all of them; a trace that crossed instances reads whole from
any of them."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from motia_core.state import open_state
from tests.conftest import require_runtime
from tests.e2e.cluster import (
    ADMIN_TOKEN,
    assert_in_order_per_item,
    copy_project,
    instances,
    redis_env,
    watch_b_write_a,
)

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(120)]

BOUND_S = 20.0


def test_a_stream_change_made_on_one_instance_reaches_a_client_of_another(
    tmp_path: Path, redis_url: str, redis_prefix: str,
) -> None:
    project = copy_project(tmp_path)
    changes = 30
    with instances(project, 2, redis_env(redis_url, redis_prefix),
                   "--runners", "python") as started:
        (_a, port_a), (_b, port_b) = started
        frames = anyio.run(watch_b_write_a, port_a, port_b, changes)
    assert_in_order_per_item(frames, changes)


async def _state_group(redis_url: str, prefix: str, group: str) -> list[Any]:
    state = open_state("redis", Path(), redis_url=redis_url, redis_prefix=prefix)
    try:
        return await state.get_group(group)
    finally:
        await state.aclose()


def test_each_cron_tick_runs_once_across_three_instances(
    tmp_path: Path, redis_url: str, redis_prefix: str,
) -> None:
    project = copy_project(tmp_path)
    wanted = 6
    with instances(project, 3, redis_env(redis_url, redis_prefix),
                   "--runners", "python") as started:
        deadline = time.monotonic() + 60
        while len(ticks := anyio.run(_state_group, redis_url, redis_prefix, "ticks")) < wanted:
            assert time.monotonic() < deadline, ticks
            assert all(process.poll() is None for process, _port in started)
            time.sleep(0.2)
    # A tick's trace id ends with its scheduled time (whole seconds): one record per trace id is
    # one run per tick, and the ticks from the first to the last are every second between them
    # (the last ones may still have been running when the instances were killed).
    runs = Counter(record["traceId"] for record in ticks)
    assert all(count == 1 for count in runs.values()), runs
    seconds = [int(trace_id.rsplit("-", 1)[1]) for trace_id in runs]  # the clock mod 10^7 ms
    if max(seconds) - min(seconds) > 5_000_000:  # the 7 digits wrapped during the test
        seconds = [ms + 10_000_000 if ms < 5_000_000 else ms for ms in seconds]
    seconds.sort()
    assert all(ms % 1000 == 0 for ms in seconds), seconds
    assert len(set(seconds)) == len(seconds)
    assert seconds[-1] - seconds[0] <= (len(seconds) + 1) * 1000, seconds  # none skipped


async def _chain_then_read_traces(port_a: int, port_b: int, count: int, redis_url: str,
                                  prefix: str) -> dict[str, dict[str, Any]]:
    headers = {"authorization": f"Bearer {ADMIN_TOKEN}"}
    async with aiohttp.ClientSession(headers=headers) as session:
        trace_ids = []
        for n in range(count):
            async with session.post(f"http://127.0.0.1:{port_a}/chain",
                                    json={"id": f"t{n}", "seq": n}) as response:
                assert response.status == 202, await response.text()
                trace_ids.append(response.headers["x-trace-id"])
        with anyio.fail_after(BOUND_S):
            while len(await _state_group(redis_url, prefix, "done")) < count:
                await anyio.sleep(0.1)
        found: dict[str, dict[str, Any]] = {}
        with anyio.fail_after(BOUND_S):  # the last spans reach the store in the next batch
            for trace_id in trace_ids:
                while True:
                    async with session.get(f"http://127.0.0.1:{port_b}/__motia/api/traces/"
                                           f"{trace_id}") as response:
                        body = await response.json() if response.status == 200 else None
                    if body is not None and body["trace"]["status"] == "completed" and \
                            len(body["spans"]) >= 3:
                        found[trace_id] = body
                        break
                    await anyio.sleep(0.1)
        async with session.get(f"http://127.0.0.1:{port_b}/__motia/api/traces?limit=100") \
                as response:
            assert response.status == 200
            listed = {t["id"] for t in (await response.json())["items"]}
        assert set(trace_ids) <= listed
        return found


def test_a_trace_that_crossed_instances_reads_whole_from_any_of_them(
    tmp_path: Path, redis_url: str, redis_prefix: str,
) -> None:
    require_runtime("node")
    project = copy_project(tmp_path)
    with instances(project, 2, redis_env(redis_url, redis_prefix), "--workbench") as started:
        (_a, port_a), (_b, port_b) = started
        found = anyio.run(_chain_then_read_traces, port_a, port_b, 10, redis_url, redis_prefix)
    # Each request was handled on A; B (which may have run none of it) reads every span of it:
    # the api step, the Python event step and the TypeScript one.
    for body in found.values():
        steps = [s["name"] for s in body["spans"] if s["kind"] != "emit"]
        assert {"StartChain", "Middle", "Finish"} <= set(steps), steps
