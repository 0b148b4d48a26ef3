"""Issue 14, item 1: the project's `.env` reaches every runner (the real environment wins), a
step that fails to load for want of a variable is told about `.env`, and a changed `.env`
restarts the runners with the new values."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from motia_core.testing import MotiaTestApp, require_runtime

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "projects" / "compat-dotenv"
LANGUAGES = {"py": "python", "ts": "node", "rb": "ruby"}
RUNTIMES = {"py": None, "ts": "node", "rb": "ruby"}

pytestmark = [pytest.mark.anyio, pytest.mark.timeout(60)]


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COMPAT_GREETING", raising=False)
    monkeypatch.delenv("COMPAT_SHADOWED", raising=False)


def project_copy(tmp_path: Path) -> Path:
    root = tmp_path / "project"
    shutil.copytree(PROJECT, root)
    return root


@pytest.mark.parametrize("suffix", list(LANGUAGES))
async def test_dotenv_reaches_each_runner_and_the_environment_wins(
        suffix: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if RUNTIMES[suffix]:
        require_runtime(str(RUNTIMES[suffix]))
    monkeypatch.setenv("COMPAT_SHADOWED", "from-the-environment")
    async with MotiaTestApp(PROJECT, strict=True, runners=[LANGUAGES[suffix]]) as app:
        response = await app.get(f"/greet/{suffix}")
    assert response.status == 200, response.text
    assert response.json == {"greeting": "hello from .env", "shadowed": "from-the-environment"}


@pytest.mark.parametrize("suffix", list(LANGUAGES))
async def test_a_step_missing_a_variable_is_told_about_dotenv(suffix: str,
                                                              tmp_path: Path) -> None:
    if RUNTIMES[suffix]:
        require_runtime(str(RUNTIMES[suffix]))
    root = project_copy(tmp_path)
    (root / ".env").write_text("COMPAT_SHADOWED=x\n")
    async with MotiaTestApp(root, runners=[LANGUAGES[suffix]]) as app:
        project = app.app.project
        assert project is not None
        [file] = [f for f in project.errors if f.endswith(f"greet_step.{suffix}")
                  or f.endswith(f"greet.step.{suffix}")]
        [error] = project.errors[file]
        assert error.hint == ("the project's .env has no COMPAT_GREETING: add "
                              "`COMPAT_GREETING=...` to it, or set it in the environment (which "
                              "wins over .env)")
        assert "COMPAT_GREETING" in error.describe(root)


async def test_without_a_dotenv_the_hint_says_where_one_goes(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    (root / ".env").unlink()
    async with MotiaTestApp(root, runners=["python"]) as app:
        project = app.app.project
        assert project is not None
        [problems] = project.errors.values()
        assert problems[0].hint == ("COMPAT_GREETING is not set: set it in the environment or "
                                    "in a .env file in the project root (motia loads it for "
                                    "every runner)")


async def test_a_changed_dotenv_restarts_the_runners_with_its_values(tmp_path: Path) -> None:
    root = project_copy(tmp_path)
    dotenv = root / ".env"
    dotenv.write_text("COMPAT_SHADOWED=first\n")
    async with MotiaTestApp(root, runners=["python"]) as app:
        assert (await app.get("/greet/py")).status == 404  # the step could not load
        dotenv.write_text("COMPAT_GREETING=now set\nCOMPAT_SHADOWED=second\n")
        report = await app.reload(dotenv)
        assert report.restarted == ["python"]
        response = await app.get("/greet/py")
        assert response.status == 200, response.text
        assert response.json == {"greeting": "now set", "shadowed": "second"}
