"""Several `motia start` processes of one project sharing one Redis, for the cluster tests."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import aiohttp
import anyio

from tests.e2e.cli import REPO, Server, free_port, start, stop

PROJECT = REPO / "tests" / "fixtures" / "projects" / "cluster"
ADMIN_TOKEN = "cluster-test-token"
BOUND_S = 20.0


def copy_project(tmp_path: Path) -> Path:
    project = tmp_path / "cluster"
    shutil.copytree(PROJECT, project, ignore=shutil.ignore_patterns(".motia*", "__pycache__",
                                                                     "types.d.ts"))
    return project


def redis_env(redis_url: str, prefix: str) -> dict[str, str]:
    return {"MOTIA_STATE": "redis", "MOTIA_QUEUE": "redis", "MOTIA_REDIS_URL": redis_url,
            "MOTIA_REDIS_PREFIX": prefix, "MOTIA_ADMIN_TOKEN": ADMIN_TOKEN,
            "MOTIA_JSON_LOGS": "1"}


@contextmanager
def instances(project: Path, count: int, env: dict[str, str], *extra: str,
              ) -> Iterator[list[tuple[Server, int]]]:
    """``count`` `motia start` processes of ``project`` with ``env`` set, each on its own port;
    every one is killed on the way out."""
    saved = {name: os.environ.get(name) for name in [*env, "MOTIA_MOTIA_DIR"]}
    os.environ.update(env)
    started: list[tuple[Server, int]] = []
    try:
        for index in range(count):
            # Each its own .motia directory, as on its own machine: what they share is Redis.
            os.environ["MOTIA_MOTIA_DIR"] = f".motia-{index}"
            port = free_port()
            started.append((start("start", project, port, *extra), port))
        yield started
    finally:
        for process, _port in started:
            stop(process)
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


async def receive_frames(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[dict[str, Any]]:
    frames: list[dict[str, Any]] = []
    with anyio.fail_after(BOUND_S):
        while len(frames) < count:
            message = await ws.receive()
            assert message.type is aiohttp.WSMsgType.TEXT, message
            frames.append(json.loads(message.data))
    return frames


async def watch_b_write_a(port_a: int, port_b: int, changes: int) -> list[dict[str, Any]]:
    """A WebSocket client on B joins the "progress"/"job" group; then ``changes`` PUTs to A's
    step write items 0, 1, 2, 0, ...; returns the frames B's client got for them."""
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{port_b}/") as ws:
            await ws.send_json({"type": "join", "data": {
                "streamName": "progress", "groupId": "job", "subscriptionId": "s1"}})
            assert (await receive_frames(ws, 1))[0]["event"] == {"type": "sync", "data": []}
            for step in range(changes):
                async with session.put(f"http://127.0.0.1:{port_a}/items/job/{step % 3}",
                                       json={"step": step}) as response:
                    assert response.status == 200, await response.text()
            return await receive_frames(ws, changes)


def assert_in_order_per_item(frames: list[dict[str, Any]], changes: int) -> None:
    """Each item's changes arrived in the order they were made, each once."""
    events = [(f["id"], f["event"]["type"], f["event"]["data"]["step"]) for f in frames]
    for item in ("0", "1", "2"):
        steps = [step for item_id, _kind, step in events if item_id == item]
        assert steps == list(range(int(item), changes, 3)), steps
        kinds = [kind for item_id, kind, _step in events if item_id == item]
        assert kinds == ["create"] + ["update"] * (len(kinds) - 1)
    assert all(f["groupId"] == "job" and f["streamName"] == "progress" for f in frames)
