"""Streams through the whole app: steps in Python and TypeScript write, WebSocket clients watch."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aiohttp
import anyio
import pytest

from motia_core.testing import MotiaTestApp
from tests.conftest import require_runtime

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "streams"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def _frame(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    with anyio.fail_after(5):
        message = await ws.receive()
    assert message.type is aiohttp.WSMsgType.TEXT, message
    frame: dict[str, Any] = json.loads(message.data)
    return frame


async def test_changes_from_python_and_typescript_steps_reach_a_group_subscriber() -> None:
    require_runtime("node")
    async with MotiaTestApp(PROJECT) as app, aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{app.port}/") as ws:
            await ws.send_json({"type": "join", "data": {
                "streamName": "todo", "groupId": "home", "subscriptionId": "s1"}})
            assert (await _frame(ws))["event"] == {"type": "sync", "data": []}

            put = await app.request("PUT", "/todos/home/a", json={"title": "milk"})
            assert put.json["id"] == "a" and put.json["title"] == "milk"
            assert put.json["__motia"]["streamName"] == "todo"  # the marker, for the Workbench
            created = await _frame(ws)
            assert created["id"] == "a"
            assert created["event"] == {"type": "create", "data": {"title": "milk", "id": "a"}}

            await app.request("PUT", "/todos/home/a", json={"title": "oat milk"})
            updated = await _frame(ws)
            assert updated["event"]["type"] == "update"
            assert updated["timestamp"] > created["timestamp"]

            removed = await app.request("DELETE", "/todos/home/a")
            assert removed.json["removed"]["title"] == "oat milk"
            assert (await _frame(ws))["event"]["type"] == "delete"
            assert (await _frame(ws))["event"] == {
                "type": "event", "event": {"type": "removed", "data": {"id": "a"}}}


async def test_can_access_in_the_stream_file_guards_joins() -> None:
    async with MotiaTestApp(PROJECT, runners="python") as app, \
            aiohttp.ClientSession() as session:
        async with session.ws_connect(f"ws://127.0.0.1:{app.port}/") as ws:
            await ws.send_json({"type": "join", "data": {
                "streamName": "todo", "groupId": "secret", "subscriptionId": "s1"}})
            denied = await _frame(ws)
            assert denied["event"]["event"]["data"]["code"] == "STREAM_ACCESS_DENIED"
            await ws.send_json({"type": "join", "data": {
                "streamName": "todo", "groupId": "open", "subscriptionId": "s2"}})
            assert (await _frame(ws))["event"] == {"type": "sync", "data": []}


async def test_the_project_stream_auth_hook_refuses_a_handshake_with_401() -> None:
    async with MotiaTestApp(PROJECT, runners="python", stream_auth="auth:authenticate") as app, \
            aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await session.ws_connect(f"ws://127.0.0.1:{app.port}/")
        assert refused.value.status == 401
        async with session.ws_connect(f"ws://127.0.0.1:{app.port}/?token=letmein") as ws:
            await ws.send_json({"type": "join", "data": {
                "streamName": "todo", "groupId": "open", "subscriptionId": "s1"}})
            assert (await _frame(ws))["event"] == {"type": "sync", "data": []}
