from __future__ import annotations

import functools
import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from motia_core.storage.redis import delete_prefix
from motia_core.testing import MISSING, missing, require_runtime
from tests.support import FakeCore

__all__ = ("FIXTURES", "missing", "require_runtime")

FIXTURES = Path(__file__).parent / "fixtures"
_BEFORE = pytest.StashKey[set[str] | None]()
_LEFT = pytest.StashKey[list[str]]()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


def pytest_configure(config: Any) -> None:
    os.environ.setdefault("MOTIA_TEST", "1")
    # `motia start` runs one process per core by default; the tests that want several say so.
    os.environ.setdefault("MOTIA_PROCESSES", "1")


# --- The tests write nothing into the repository (they copy a fixture before changing it) ----

REPO = Path(__file__).resolve().parents[1]


def _untracked() -> set[str] | None:
    """The files git sees as new in the checkout (ignored ones aside), or None outside git."""
    try:
        result = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all"],
                                cwd=REPO, capture_output=True, text=True, timeout=60,
                                check=True)
    except (OSError, subprocess.SubprocessError):
        return None
    return {line[3:] for line in result.stdout.splitlines() if line.startswith("??")}


def pytest_sessionstart(session: pytest.Session) -> None:
    session.config.stash[_BEFORE] = _untracked()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    before = session.config.stash.get(_BEFORE, None)
    after = _untracked() if before is not None else None
    if before is None or after is None or session.config.option.collectonly:
        return
    if new := sorted(after - before):
        session.config.stash[_LEFT] = new
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """What the tests left in the repository, and one line for what this machine lacks."""
    left = terminalreporter.config.stash.get(_LEFT, [])
    if left:
        terminalreporter.write_line(
            f"FAILED: the tests wrote {len(left)} new file(s) into the repository (copy the "
            f"fixture to tmp_path first): {', '.join(left[:10])}", red=True)
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        reason = str(report.longrepr[2]) if isinstance(report.longrepr, tuple) else ""
        if MISSING in reason:
            what = reason[reason.index(MISSING) + len(MISSING):].strip()
            reasons[what] = reasons.get(what, 0) + 1
    if reasons:
        listed = "; ".join(sorted(reasons))
        terminalreporter.write_line(
            f"{sum(reasons.values())} tests skipped, {MISSING} {listed}. `make test` installs "
            "these where it can (root with apt-get); under CI=true they fail instead.",
            yellow=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests (real CLI, real servers) run last, after the faster layers."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


# --- Redis: the server the Redis adapters' tests use, and a key prefix of each test's own -----

REDIS_URL = os.environ.get("MOTIA_TEST_REDIS_URL", "redis://127.0.0.1:6379")


@functools.cache
def _redis_problem() -> str | None:
    """Why no Redis answers at REDIS_URL, or None; asked once per run, not once per test."""
    import redis

    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2, socket_timeout=5,
                                  retry=None)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return type(exc).__name__
    finally:
        client.close()
    return None


@pytest.fixture
def redis_url() -> str:
    """``MOTIA_TEST_REDIS_URL`` (default 127.0.0.1:6379) if a server answers there."""
    problem = _redis_problem()
    if problem is not None:
        missing(f"a Redis server at {REDIS_URL} ({problem})",
                "`make test` starts one; or set MOTIA_TEST_REDIS_URL")
    return REDIS_URL


@pytest.fixture
def redis_prefix(redis_url: str) -> Iterator[str]:
    """A key prefix no other test uses; every key under it is deleted after the test."""
    prefix = f"motia-test:{uuid.uuid4().hex}:"
    yield prefix
    delete_prefix(redis_url, prefix)
