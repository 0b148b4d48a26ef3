from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from motia_core.testing import MISSING, missing, require_runtime
from tests.support import FakeCore

__all__ = ("FIXTURES", "missing", "require_runtime")

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


def pytest_configure(config: Any) -> None:
    os.environ.setdefault("MOTIA_TEST", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests (real CLI, real servers) run last, after the faster layers."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """One line for what this machine lacks, however many tests it skipped."""
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
