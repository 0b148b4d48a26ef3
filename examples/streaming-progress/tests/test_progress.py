"""A TypeScript api step starts a Python job; a WebSocket client follows its progress item."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from motia_core.testing import MotiaTestApp, require_runtime

PROJECT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.anyio


async def test_a_client_follows_a_job_from_start_to_finish() -> None:
    require_runtime("node")
    async with MotiaTestApp(PROJECT) as app, aiohttp.ClientSession() as session:
        page = await app.get("/")
        assert page.status == 200 and "new WebSocket" in page.text
        assert page.headers["content-type"].startswith("text/html")

        started = await app.post("/jobs", json={"items": 10})
        assert started.status == 202
        watch = started.json["watch"]
        seen: list[Any] = []
        async with session.ws_connect(f"ws://127.0.0.1:{app.port}/") as ws:
            await ws.send_json({"type": "join", "data": {**watch, "subscriptionId": "u1"}})
            with anyio.fail_after(20):
                async for message in ws:
                    event = json.loads(message.data)["event"]
                    if event["type"] == "event":
                        assert event["event"] == {"type": "finished", "data": {"items": 10}}
                        break
                    seen.append(event["data"])
        percents = [item["percent"] for item in seen]
        assert percents == sorted(percents) and percents[-1] == 100
        assert seen[-1]["stage"] == "done"
        item = await app.app.stream_store.get("progress", "jobs", watch["id"])
        assert item["percent"] == 100
