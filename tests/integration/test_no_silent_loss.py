"""Accepted work is never dropped in silence (issue 15 item 3): a missing runtime refuses
`motia start`, a step that fails to reload keeps its events queued, and `POST /emit` says how
many subscribers it reached (a warning once per topic that has none)."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from motia_core.runtime.app import StartupFailed
from motia_core.testing import MotiaTestApp

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "projects"

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]

COBOL = ('[runner.cobol]\ncommand = ["definitely-not-installed-cobol"]\n'
         'patterns = [".step.cob"]\ninstall_hint = "apt-get install gnucobol"\n')


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """A Python step and a step in a language whose runtime is not installed."""
    root = tmp_path / "mixed"
    (root / "steps").mkdir(parents=True)
    (root / "motia.toml").write_text(COBOL)
    (root / "steps" / "hello_step.py").write_text(
        'config = {"type": "api", "name": "Hello", "path": "/hello", "method": "GET", '
        '"emits": []}\n\nasync def handler(req, ctx):\n    return {"status": 200, "body": {}}\n')
    (root / "steps" / "ledger.step.cob").write_text("")
    return root


async def test_motia_start_refuses_a_step_whose_runtime_is_missing(mixed: Path) -> None:
    with pytest.raises(StartupFailed) as info:
        async with MotiaTestApp(mixed, strict=True):
            pass
    message = str(info.value)
    assert "definitely-not-installed-cobol" in message
    assert "steps/ledger.step.cob" in message and "apt-get install gnucobol" in message
    assert "--runners python" in message  # how to leave it out on purpose


async def test_motia_start_runs_when_the_language_is_left_out_on_purpose(mixed: Path) -> None:
    async with MotiaTestApp(mixed, strict=True, runners=("python",)) as app:
        assert (await app.get("/hello")).status == 200
        assert "cobol" in app.app.health()["skipped"]


async def test_motia_dev_still_starts_and_lists_the_step_as_skipped(mixed: Path) -> None:
    async with MotiaTestApp(mixed) as app:
        assert (await app.get("/hello")).status == 200
        assert "definitely-not-installed-cobol" in app.app.health()["skipped"]["cobol"]


@pytest.fixture
def reload_project(tmp_path: Path) -> Path:
    target = tmp_path / "reload"
    shutil.copytree(FIXTURES / "reload", target)
    return target


async def test_events_for_a_step_that_fails_to_reload_wait_for_its_fixed_version(
        reload_project: Path) -> None:
    async with MotiaTestApp(reload_project) as app:
        step = reload_project / "steps" / "record_step.py"
        good = step.read_text()
        step.write_text(good.replace("async def handler", "async def handler(:"))
        await app.reload(step)
        assert str(step) in app.app.project.errors  # type: ignore[union-attr]

        trace_id = await app.emit("greeted", {"word": "meanwhile"})
        counts = await app.app.queue.counts("greeted.Record")
        assert counts.ready == 1  # kept in its queue, not dropped
        await app.settle()  # a held queue does not keep settle waiting
        assert await app.state.get("greetings", trace_id) is None  # not delivered yet

        step.write_text(good)
        await app.reload(step)
        await app.settle()
        assert await app.state.get("greetings", trace_id) == {"version": 1, "word": "meanwhile"}


async def test_a_deleted_subscriber_is_unsubscribed(reload_project: Path) -> None:
    async with MotiaTestApp(reload_project) as app:
        step = reload_project / "steps" / "record_step.py"
        step.unlink()
        await app.reload(step)
        assert app.app.bus.subscriptions("greeted") == []
        response = await app.post("/emit", json={"topic": "greeted", "data": {}})
        assert response.json["subscribers"] == 0


async def test_emit_says_how_many_subscribers_it_reached_and_warns_once_per_topic(
        caplog: pytest.LogCaptureFixture, reload_project: Path) -> None:
    caplog.set_level(logging.DEBUG, logger="motia.handlers")
    async with MotiaTestApp(reload_project) as app:
        reached = await app.post("/emit", json={"topic": "greeted", "data": {"word": "x"}})
        assert reached.status == 200
        assert reached.json == {"success": True, "emitted": {"topic": "greeted",
                                                             "data": {"word": "x"}},
                                "subscribers": 1}
        for _ in range(3):
            nobody = await app.post("/emit", json={"topic": "greetd", "data": {}})
            assert nobody.status == 200
            assert nobody.json["success"] is True and nobody.json["subscribers"] == 0
        await app.post("/emit", json={"topic": "other-typo", "data": {}})
    warnings = [r.getMessage() for r in caplog.records
                if r.name == "motia.handlers" and r.levelno == logging.WARNING]
    assert warnings == ["no step subscribes to 'greetd': the event goes nowhere",
                        "no step subscribes to 'other-typo': the event goes nowhere"]
