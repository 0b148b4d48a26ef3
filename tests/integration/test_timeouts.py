"""Deadlines: a handler that does not yield is cut off, its runner replaced, its event retried."""

from __future__ import annotations

from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "timeouts"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


async def test_an_api_handler_past_its_deadline_is_500_and_the_runner_is_replaced() -> None:
    async with MotiaTestApp(PROJECT, handler_timeout_s=0.3) as app:
        before = (await app.get("/fast")).json["pid"]
        blocked = await app.get("/block")
        assert blocked.status == 500 and blocked.json == {"error": "Internal server error"}
        after = await app.get("/fast")  # waits for the new runner, then is served by it
        assert after.status == 200 and after.json["pid"] != before


async def test_an_event_past_its_deadline_follows_its_retry_policy() -> None:
    async with MotiaTestApp(PROJECT) as app:
        await app.emit("work", {})
        await app.settle(timeout_s=30)
        assert await app.state.get("attempts", "work") == 2
        assert await app.state.get("done", "work") == 2
        assert await app.dead_letters("work", "StuckOnce") == []
