from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from tests.support import FakeCore

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def fake_core() -> FakeCore:
    return FakeCore()


def require_runtime(command: str) -> str:
    """The path of a runtime; a skip locally when absent, a failure in CI (CI=true)."""
    path = shutil.which(command)
    if path is None:
        message = f"{command!r} is not installed"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message}, and CI must run every runtime's tests")
        pytest.skip(message)
    return path


def pytest_configure(config: Any) -> None:
    os.environ.setdefault("MOTIA_TEST", "1")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """End-to-end tests (real CLI, real servers) run last, after the faster layers."""
    items.sort(key=lambda item: item.get_closest_marker("e2e") is not None)
