"""A real headless Chromium opens the streaming example's page and follows a job to the end.

The page is the one a person would open: it POSTs /jobs, opens a WebSocket to its own origin,
joins the job's progress item and renders what the stream pushes. It records every status it
showed in `window.__statuses`, so the test checks the whole sequence, not only the last frame.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp
from tests.conftest import require_runtime
from tests.e2e.browser import Browser

PROJECT = Path(__file__).resolve().parents[2] / "examples" / "streaming-progress"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
STATUS = re.compile(r"(queued|working|done) (\d+)%")

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]


async def test_a_browser_page_follows_a_job_over_the_stream(tmp_path: Path) -> None:
    chromium = require_runtime("chromium")
    require_runtime("node")  # the page and the job's start are TypeScript steps
    async with MotiaTestApp(PROJECT) as app, Browser(chromium, tmp_path / "profile") as browser:
        await browser.navigate(f"http://127.0.0.1:{app.port}/")
        assert await browser.evaluate("document.getElementById('status').textContent") == "idle"

        await browser.evaluate("document.getElementById('start').click()")
        await browser.wait_for(
            "(window.__statuses.at(-1) || '').startsWith('finished') || "
            "(window.__statuses.at(-1) || '').startsWith('could not')",
            "the page to show the job finished")

        statuses: list[str] = await browser.evaluate("window.__statuses")
        assert statuses[-1] == "finished: 40 items", statuses
        assert await browser.evaluate("document.getElementById('status').textContent") \
            == "finished: 40 items"
        assert await browser.evaluate("document.getElementById('fill').style.width") == "100%"
        shot = await browser.screenshot(tmp_path / "progress.png")

    progress = [STATUS.fullmatch(status) for status in statuses[:-1]]
    assert all(progress), f"unexpected statuses before the end: {statuses}"
    stages = [(match[1], int(match[2])) for match in progress if match]
    percents = [percent for _, percent in stages]
    assert percents == sorted(percents), f"progress went backwards: {statuses}"
    assert stages[-1] == ("done", 100), statuses
    # The page joined while the job ran, so it rendered live updates, not only the outcome.
    assert any(stage == "working" and 0 < percent < 100 for stage, percent in stages), statuses
    assert shot.startswith(PNG_SIGNATURE) and len(shot) > 1000
